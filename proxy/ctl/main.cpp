// dlproxyctl: inspect and manage dlproxy's cache, with or without a running dlproxy.
//
// Read-only commands (ls, show, verify, stats, export) open the store read-only, which LMDB
// allows next to a running dlproxy. evict, purge and gc go through the daemon's admin API when it
// answers, else open the store themselves. Exit codes: 0 ok, 1 the operation found a problem, 2
// usage error, 3 the store cannot be opened or the daemon is unreachable when required.
#include <curl/curl.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>

#include "policy/byte_size.h"
#include "policy/request_target.h"
#include "proxy/ctl/commands.h"
#include "proxy/dlproxy_version.h"

namespace ctl {

void print_json(const nlohmann::json& value) {
    std::string text = value.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
    text += '\n';
    std::fwrite(text.data(), 1, text.size(), stdout);
}

}  // namespace ctl

namespace {

struct GlobalFlags {
    std::string cache_dir, ca_dir, cache_size, admin, admin_token, config;
};

// The store logs what it decides itself (a chunk dropped after a failed check) through spdlog;
// keep that on stderr, and silent unless -v (commands report failures themselves, in one line),
// so stdout stays the command's output.
void setup_logging(int verbose) {
    auto logger = spdlog::stderr_color_mt("dlproxyctl");
    logger->set_pattern("dlproxyctl: %v");
    spdlog::set_default_logger(logger);
    spdlog::set_level(verbose >= 2   ? spdlog::level::debug
                      : verbose == 1 ? spdlog::level::warn
                                     : spdlog::level::off);
}

void apply_flags(ctl::Context& ctx, const GlobalFlags& flags) {
    ctx.config_file = flags.config;
    ctx.load_config();
    if (!flags.cache_dir.empty()) ctx.cache_dir = flags.cache_dir;
    if (!flags.ca_dir.empty()) ctx.ca_dir = flags.ca_dir;
    if (!flags.cache_size.empty()) {
        auto size = policy::parse_byte_size(flags.cache_size);
        if (!size) throw ctl::CtlError(ctl::kUsage, "--cache-size: '" + flags.cache_size + "'");
        ctx.cache_size = *size;
    }
    if (!flags.admin.empty()) ctx.admin_url = flags.admin;
    if (!flags.admin_token.empty()) ctx.admin_token = flags.admin_token;
    if (ctx.admin_token.empty()) {
        if (const char* env = std::getenv("DLPROXY_ADMIN_TOKEN")) ctx.admin_token = env;
    }
}

int run(int argc, char** argv) {
    ctl::Context ctx;
    GlobalFlags flags;
    ctl::Runner chosen;
    CLI::App app{"dlproxyctl: inspect and manage dlproxy's cache", "dlproxyctl"};
    app.set_version_flag("--version", std::string("dlproxyctl ") + DLPROXY_VERSION);
    app.require_subcommand(1);
    app.fallthrough();  // global options may follow the command: `dlproxyctl ls --json`
    app.get_formatter()->column_width(34);
    app.footer(
        "Exit codes: 0 ok, 1 the operation found a problem (corruption, not found, refused),\n"
        "2 usage error, 3 cannot open the store / the daemon is unreachable when required.");
    app.add_option("--cache-dir", flags.cache_dir, "cache directory (default dlproxy-cache)");
    app.add_option("--ca-dir", flags.ca_dir, "interception CA directory (default <cache-dir>/ca)");
    app.add_option("--cache-size", flags.cache_size, "byte budget for gc without a daemon");
    app.add_option("--config", flags.config,
                   "dlproxy's TOML config: cache_dir, cache_size, listen, admin_listen");
    app.add_option("--admin", flags.admin,
                   "the daemon's admin URL (default http://<admin_listen>, 127.0.0.1:3129)");
    app.add_option("--admin-token", flags.admin_token,
                   "bearer token for the admin API (or DLPROXY_ADMIN_TOKEN)");
    app.add_flag("--no-admin", ctx.no_admin, "never ask the daemon; work on the store directly");
    app.add_flag("--json", ctx.json, "machine-readable output on stdout");
    app.add_flag("-v,--verbose", ctx.verbose, "more messages on stderr (repeatable)");

    ctl::add_ls(app, ctx, chosen);
    ctl::add_show(app, ctx, chosen);
    ctl::add_verify(app, ctx, chosen);
    ctl::add_mutations(app, ctx, chosen);
    ctl::add_stats(app, ctx, chosen);
    ctl::add_export(app, ctx, chosen);
    ctl::add_import(app, ctx, chosen);
    ctl::add_prefetch(app, ctx, chosen);
    ctl::add_ca(app, ctx, chosen);
    ctl::add_watch(app, ctx, chosen);
    ctl::add_doctor(app, ctx, chosen);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? ctl::kOk : ctl::kUsage;
    }
    setup_logging(ctx.verbose);
    apply_flags(ctx, flags);
    if (!chosen) return ctl::kUsage;  // unreachable: require_subcommand(1)
    return chosen();
}

}  // namespace

int main(int argc, char** argv) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        std::fprintf(stderr, "dlproxyctl: libcurl failed to initialise\n");
        return ctl::kUnavailable;
    }
    int code;
    try {
        code = run(argc, argv);
    } catch (const ctl::CtlError& e) {
        std::fprintf(stderr, "dlproxyctl: %s\n", e.what());
        code = e.code;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "dlproxyctl: %s\n", e.what());
        code = ctl::kProblem;
    }
    std::fflush(stdout);
    curl_global_cleanup();
    return code;
}
