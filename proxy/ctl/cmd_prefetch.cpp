// dlproxyctl prefetch: GET each URL through the running proxy and throw the body away, so the
// proxy caches it. On a terminal a progress bar (bytes, rate, ETA) is redrawn on stderr; otherwise
// a plain progress line is written every 5 s, and one summary line per URL in any case.
//
// The proxy finishes writing the cache a moment after the last byte reaches the client, so when
// the cache directory is readable here, prefetch then waits (--wait, default 30 s) until the
// object is complete in it: "prefetched" means "in the cache", or exit 1 says it is not.
#include <curl/curl.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <memory>

#include <thread>

#include "proxy/admin/cache_admin.h"
#include "proxy/ctl/commands.h"

namespace ctl {

namespace {

struct PrefetchOptions {
    std::vector<std::string> urls;
    std::string proxy;
    double wait = 30;
};

struct Transfer {
    std::string url;
    bool tty = false;
    double start = 0;
    double last_report = 0;
    uint64_t received = 0;
};

std::string clock_text(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0) return "--:--";
    auto s = static_cast<long long>(seconds + 0.5);
    char buf[32];
    if (s >= 3600)
        std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
    else
        std::snprintf(buf, sizeof buf, "%lld:%02lld", s / 60, s % 60);
    return buf;
}

// One progress report: a redrawn bar on a terminal, a plain line otherwise.
void draw(const Transfer& t, uint64_t total) {
    double elapsed = std::max(1e-3, now_monotonic() - t.start);
    double rate = static_cast<double>(t.received) / elapsed;
    std::string sizes = human_size(t.received) + (total ? " / " + human_size(total) : "");
    std::string rate_text = human_size(static_cast<uint64_t>(rate)) + "/s";
    if (!t.tty) {
        std::fprintf(stderr, "progress: %s %s %s\n", t.url.c_str(), sizes.c_str(),
                     rate_text.c_str());
        return;
    }
    constexpr uint64_t kWidth = 24;
    std::string bar(total ? kWidth * std::min(t.received, total) / total : 0, '#');
    bar.resize(kWidth, total ? '.' : '?');
    double eta =
        total && rate > 0 ? static_cast<double>(total - std::min(t.received, total)) / rate : NAN;
    std::fprintf(stderr, "\r[%s] %3d%% %s %s ETA %s   ", bar.c_str(),
                 total ? static_cast<int>(100 * std::min(t.received, total) / total) : 0,
                 sizes.c_str(), rate_text.c_str(), clock_text(eta).c_str());
}

size_t discard_cb(char*, size_t size, size_t n, void* user) noexcept {
    static_cast<Transfer*>(user)->received += size * n;
    return size * n;
}

int progress_cb(void* user, curl_off_t dltotal, curl_off_t, curl_off_t, curl_off_t) noexcept {
    auto* t = static_cast<Transfer*>(user);
    double now = now_monotonic();
    double every = t->tty ? 0.2 : 5.0;
    if (now - t->last_report >= every) {
        t->last_report = now;
        draw(*t, static_cast<uint64_t>(dltotal));
    }
    return 0;
}

struct CurlDeleter {
    void operator()(CURL* c) const { curl_easy_cleanup(c); }
};

// Exit code for this URL: kOk, kProblem (HTTP error or broken transfer), kUnavailable (no proxy).
int fetch(const std::string& url, const std::string& proxy, bool quiet, nlohmann::json& result) {
    Transfer t{url, !quiet && isatty(STDERR_FILENO) != 0, now_monotonic(), now_monotonic(), 0};
    std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
    CURL* c = curl.get();
    char error[CURL_ERROR_SIZE] = {};
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_PROXY, proxy.c_str());
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &discard_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
    if (!quiet) {
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, &progress_cb);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
    }
    CURLcode code = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    double seconds = now_monotonic() - t.start;
    result = {{"url", url}, {"status", status}, {"bytes", t.received}, {"seconds", seconds}};
    int exit = kOk;
    std::string problem;
    if (code == CURLE_COULDNT_CONNECT) {
        problem = "cannot connect to the proxy at " + proxy + ": " + error;
        exit = kUnavailable;
    } else if (code != CURLE_OK) {
        problem = error[0] ? error : curl_easy_strerror(code);
        exit = kProblem;
    } else if (status >= 400) {
        problem = "HTTP " + std::to_string(status);
        exit = kProblem;
    }
    result["error"] = problem.empty() ? nlohmann::json(nullptr) : nlohmann::json(problem);
    if (t.tty) std::fputs("\r\033[K", stderr);
    if (!problem.empty()) {
        std::fprintf(stderr, "failed: %s: %s\n", url.c_str(), problem.c_str());
    } else if (!quiet) {
        std::fprintf(
            stderr, "done: %s %s in %.1f s (%s/s), status %ld\n", url.c_str(),
            human_size(t.received).c_str(), seconds,
            human_size(static_cast<uint64_t>(t.received / std::max(seconds, 1e-3))).c_str(),
            status);
    }
    return exit;
}

// Waits up to `wait` seconds for `url` to be complete in `store`; sets result["cached"].
int confirm_cached(const cache::Store& store, const std::string& url, double wait,
                   nlohmann::json& result) {
    auto key = proxy::cache_key_of(url);
    double deadline = now_monotonic() + wait;
    std::optional<cache::ObjectInfo> object;
    while (key) {
        auto found = store.lookup(*key);
        object = found ? *found : std::nullopt;
        if ((object && object->complete()) || now_monotonic() >= deadline) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    result["cached"] = object && object->complete();
    if (object && object->complete()) return kOk;
    std::string why = object ? "still " + percent_present(*object) + " present after " +
                                   std::to_string(static_cast<int>(wait)) + " s"
                             : "the proxy did not store it (not cacheable?)";
    std::fprintf(stderr, "not cached: %s: %s\n", url.c_str(), why.c_str());
    return kProblem;
}

int run_prefetch(const Context& ctx, const PrefetchOptions& opt) {
    std::string proxy = opt.proxy.empty() ? ctx.proxy_url() : opt.proxy;
    std::unique_ptr<cache::Store> store;
    if (opt.wait > 0) {
        try {
            store = ctx.open_store(/*read_only=*/true);
        } catch (const CtlError& e) {
            if (!ctx.json) std::fprintf(stderr, "not checking the cache: %s\n", e.what());
        }
    }
    nlohmann::json results = nlohmann::json::array();
    int worst = kOk;
    for (const auto& url : opt.urls) {
        nlohmann::json result;
        int code = fetch(url, proxy, ctx.json, result);
        result["cached"] = nullptr;
        if (code == kOk && store) code = confirm_cached(*store, url, opt.wait, result);
        results.push_back(result);
        worst = std::max(worst, code);
        if (code == kUnavailable) break;  // no proxy: the other URLs would fail the same way
    }
    if (ctx.json) print_json(results);
    return worst;
}

}  // namespace

void add_prefetch(CLI::App& app, Context& ctx, Runner& chosen) {
    auto opt = std::make_shared<PrefetchOptions>();
    auto* cmd = app.add_subcommand(
        "prefetch", "Download URLs through the running proxy so it caches them (body discarded)");
    cmd->add_option("urls", opt->urls, "the URLs to fetch")->required();
    cmd->add_option("--proxy", opt->proxy,
                    "the proxy to go through (default http://<listen from --config>, "
                    "http://127.0.0.1:3128)");
    cmd->add_option("--wait", opt->wait,
                    "seconds to wait for each object to be complete in the cache (default 30; "
                    "0 = do not check)")
        ->check(CLI::NonNegativeNumber);
    cmd->callback(
        [&ctx, &chosen, opt] { chosen = [&ctx, opt] { return run_prefetch(ctx, *opt); }; });
}

}  // namespace ctl
