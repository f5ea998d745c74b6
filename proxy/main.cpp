// dlproxy: start-up, logging, signals, and the event loop.
#include <curl/curl.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <uv.h>

#include <malloc.h>

#include <csignal>
#include <cstdio>
#include <thread>

#include "cache/chunk_hash.h"
#include "cache/store.h"
#include "proxy/admin/admin_api.h"
#include "proxy/admin/admin_server.h"
#include "proxy/admin/event_stream.h"
#include "proxy/admin/status_snapshot.h"
#include "proxy/config/config.h"
#include "proxy/config/config_reload.h"
#include "proxy/fetch/fetch_registry.h"
#include "proxy/loop/clock.h"
#include "proxy/server.h"

namespace {

// SIGINT/SIGTERM stop; SIGHUP reloads the configuration and reopens the access log; SIGUSR1
// only reopens the access log (docs/operations.md, "Signals").
struct Signals {
    uv_signal_t sigint;
    uv_signal_t sigterm;
    uv_signal_t sighup;
    uv_signal_t sigusr1;
    proxy::Server* server;
    proxy::AdminServer* admin;
    proxy::Config* config;  // the running configuration (the admin API reads it too)
    int argc;
    char** argv;
    int received = 0;
};

void close_signal(uv_signal_t* handle) {
    uv_signal_stop(handle);
    uv_close(reinterpret_cast<uv_handle_t*>(handle), nullptr);
}

void on_signal_cb(uv_signal_t* handle, int signum) noexcept {
    auto* s = static_cast<Signals*>(handle->data);
    if (++s->received > 1) {
        spdlog::warn("second signal: exiting now");
        std::_Exit(1);
    }
    spdlog::info("received {}: stopping", signum == SIGINT ? "SIGINT" : "SIGTERM");
    for (uv_signal_t* h : {&s->sigint, &s->sigterm, &s->sighup, &s->sigusr1})
        close_signal(h);
    s->admin->stop();
    s->server->shutdown();
}

void reopen_access_log(Signals& s) {
    if (std::string error = s.server->access_log().reopen(); !error.empty())
        spdlog::error("access log: cannot reopen '{}': {}; still writing to the old file",
                      s.config->access_log, error);
    else if (s.config->access_log != "-" && s.config->access_log != "off")
        spdlog::info("access log: reopened '{}'", s.config->access_log);
}

void reload(Signals& s) {
    const std::string& file = s.config->config_file;
    spdlog::info("received SIGHUP: reloading the configuration from {}",
                 file.empty() ? "the command line (no --config file)" : "'" + file + "'");
    proxy::ParsedArgs loaded;
    try {
        loaded = proxy::parse_args(s.argc, s.argv);
    } catch (const std::exception& e) {
        spdlog::error("reload refused: {}; keeping the running configuration", e.what());
        return;
    }
    if (loaded.exit_code >= 0) {
        spdlog::error(
            "reload refused: the command line did not parse; keeping the running "
            "configuration");
        return;
    }
    proxy::ReloadPlan plan;
    try {
        plan = proxy::plan_reload(*s.config, loaded.config);
    } catch (const std::exception& e) {
        spdlog::error("reload refused: {}; keeping the running configuration", e.what());
        return;
    }
    for (const auto& change : plan.applied)
        spdlog::info("reload: {}", change);
    for (const auto& change : plan.need_restart)
        spdlog::warn("reload: {} needs a restart; keeping the running value", change);
    if (plan.applied.empty() && plan.need_restart.empty()) spdlog::info("reload: no change");
    *s.config = plan.next;
    spdlog::set_level(spdlog::level::from_str(s.config->log_level));
    s.server->apply_config(*s.config);
}

void on_reload_cb(uv_signal_t* handle, int signum) noexcept {
    auto* s = static_cast<Signals*>(handle->data);
    if (signum == SIGHUP) reload(*s);
    reopen_access_log(*s);
}

void setup_logging(const std::string& level) {
    auto logger = spdlog::stderr_color_mt("dlproxy");
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z [%l] %v");
    spdlog::set_default_logger(logger);
    spdlog::set_level(spdlog::level::from_str(level));
    spdlog::flush_on(spdlog::level::trace);
}

}  // namespace

int main(int argc, char** argv) {
    proxy::ParsedArgs args;
    try {
        args = proxy::parse_args(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "dlproxy: %s\n", e.what());
        return 2;
    }
    if (args.exit_code >= 0) return args.exit_code;
    proxy::Config& config = args.config;

    std::signal(SIGPIPE, SIG_IGN);
    // Body buffers are 256 KiB and short-lived: keep them on the heap and stop glibc from
    // returning memory to the kernel after every free (it showed up as one brk() per write).
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
    mallopt(M_TRIM_THRESHOLD, 8 << 20);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        std::fprintf(stderr, "dlproxy: libcurl failed to initialise\n");
        return 1;
    }
    try {
        setup_logging(config.log_level);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "dlproxy: cannot set up logging: %s\n", e.what());
        return 1;
    }

    // The cache: dlproxy refuses to start without it. The admin endpoint evicts and purges
    // through it (StoreCacheAdmin, on a worker thread like every other cache write).
    auto store = cache::Store::open(
        config.cache_dir,
        {.max_bytes = config.cache_size,
         .durability = config.cache_sync ? cache::Durability::Sync : cache::Durability::NoSync});
    if (!store) {
        std::fprintf(stderr, "dlproxy: cannot open the cache in '%s': %s\n",
                     config.cache_dir.c_str(), cache::to_string(store.error()).c_str());
        return 1;
    }
    if (auto orphans = (*store)->remove_orphan_files(); orphans && *orphans > 0)
        spdlog::info("cache: removed {} orphaned body file(s)", *orphans);
    spdlog::debug("cache: chunk checksums are XXH3-64 ({} build)",
                  cache::chunk_hash_implementation());
    const double start_time = proxy::wall_seconds_f();

    uv_loop_t loop;
    uv_loop_init(&loop);
    int exit_code = 0;
    {
        proxy::StoreCacheAdmin cache_admin(**store);
        proxy::NoFills no_fills;
        proxy::Server server(&loop, config, store->get());
        if (auto* fetches = server.fetches())
            cache_admin.set_in_use([fetches] { return fetches->objects_in_use(); });
        const proxy::StatusProvider& fills =
            server.fetches() ? static_cast<const proxy::StatusProvider&>(*server.fetches())
                             : no_fills;
        proxy::AdminApi admin_api(config, proxy::metrics(), &cache_admin, fills, config.admin_token,
                                  start_time);
        proxy::AdminServer admin(&loop, config.admin_listen, admin_api);
        proxy::StatusSnapshot snapshot(proxy::metrics(), &cache_admin, fills,
                                       proxy::status_events(), config.cache_size, start_time);
        proxy::EventStream events(&loop, snapshot);
        admin.set_event_stream(&events);
        try {
            server.start();
            admin.start();
            admin_api.set_listen_addresses(server.listen_address(), admin.listen_address());
        } catch (const std::exception& e) {
            spdlog::critical("{}", e.what());
            std::fprintf(stderr, "dlproxy: %s\n", e.what());
            return 1;
        }
        Signals signals{};
        signals.server = &server;
        signals.admin = &admin;
        signals.config = &config;
        signals.argc = argc;
        signals.argv = argv;
        for (uv_signal_t* h :
             {&signals.sigint, &signals.sigterm, &signals.sighup, &signals.sigusr1}) {
            uv_signal_init(&loop, h);
            h->data = &signals;
        }
        uv_signal_start(&signals.sigint, &on_signal_cb, SIGINT);
        uv_signal_start(&signals.sigterm, &on_signal_cb, SIGTERM);
        uv_signal_start(&signals.sighup, &on_reload_cb, SIGHUP);
        uv_signal_start(&signals.sigusr1, &on_reload_cb, SIGUSR1);

        // From here this thread runs the loop: every LMDB write commit, fsync and body unlink
        // goes through the worker (proxy/loop/worker.h), and the store asserts it (start-up work
        // above, before any connection, may still block).
        (*store)->forbid_blocking_on(std::this_thread::get_id());
        uv_run(&loop, UV_RUN_DEFAULT);
        spdlog::info("stopped");
    }
    if (uv_loop_close(&loop) != 0) {
        spdlog::warn("event loop closed with handles still open");
        exit_code = 0;
    }
    curl_global_cleanup();
    return exit_code;
}
