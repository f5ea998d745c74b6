// dlproxyctl stats: the cache's totals from the index and, when dlproxy answers on --admin, its
// traffic figures from GET /metrics.
//
// Hit ratio = (HIT + PARTIAL_HIT + REVALIDATED) / (those + MISS): the share of cacheable
// requests the cache answered at least in part. PASS, TUNNEL, ERROR, ABORTED, DENIED and INTERCEPT
// are not cache decisions and are left out. The byte ratio is bytes_from_cache / (bytes_from_cache
// + bytes_from_upstream).
#include <cstdio>
#include <map>
#include <sstream>

#include "proxy/ctl/commands.h"
#include "proxy/ctl/http_client.h"

namespace ctl {

namespace {

using nlohmann::json;

// Samples of a Prometheus text page: "name" or "name{labels}" → value. Enough for our own
// /metrics; comments and malformed lines are skipped.
std::map<std::string, double> parse_samples(const std::string& text) {
    std::map<std::string, double> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        auto space = line.rfind(' ');
        if (space == std::string::npos) continue;
        try {
            out[line.substr(0, space)] = std::stod(line.substr(space + 1));
        } catch (const std::exception&) {
        }
    }
    return out;
}

std::optional<json> daemon_figures(const Context& ctx) {
    if (ctx.no_admin) return std::nullopt;
    AdminClient admin(ctx.effective_admin_url(), ctx.admin_token);
    HttpReply reply = admin.get("/metrics");
    if (!reply.answered() || reply.status != 200) {
        if (ctx.verbose) {
            std::fprintf(
                stderr, "dlproxyctl: no metrics from %s: %s\n", admin.base_url().c_str(),
                reply.answered() ? std::to_string(reply.status).c_str() : reply.error.c_str());
        }
        return std::nullopt;
    }
    auto s = parse_samples(reply.body);
    auto get = [&](const std::string& key) {
        auto it = s.find("dlproxy_" + key);
        return it == s.end() ? 0.0 : it->second;
    };
    json requests = json::object();
    double total = 0;
    for (const char* r : {"HIT", "MISS", "PARTIAL_HIT", "REVALIDATED", "PASS", "TUNNEL", "ERROR",
                          "ABORTED", "DENIED", "INTERCEPT"}) {
        double n = get(std::string("requests_total{result=\"") + r + "\"}");
        requests[r] = static_cast<uint64_t>(n);
        total += n;
    }
    double hits = requests["HIT"].get<double>() + requests["PARTIAL_HIT"].get<double>() +
                  requests["REVALIDATED"].get<double>();
    double eligible = hits + requests["MISS"].get<double>();
    double from_cache = get("bytes_from_cache_total");
    double from_upstream = get("bytes_from_upstream_total");
    return json{{"admin_url", admin.base_url()},
                {"requests_total", static_cast<uint64_t>(total)},
                {"requests", requests},
                {"hit_ratio", eligible > 0 ? json(hits / eligible) : json(nullptr)},
                {"bytes_from_cache", static_cast<uint64_t>(from_cache)},
                {"bytes_from_upstream", static_cast<uint64_t>(from_upstream)},
                {"bytes_to_clients", static_cast<uint64_t>(get("bytes_to_clients_total"))},
                {"byte_hit_ratio", from_cache + from_upstream > 0
                                       ? json(from_cache / (from_cache + from_upstream))
                                       : json(nullptr)},
                {"resumes", static_cast<uint64_t>(get("resumes_total"))},
                {"retries", static_cast<uint64_t>(get("retries_total"))},
                {"give_ups", static_cast<uint64_t>(get("give_ups_total"))},
                {"inflight_fills", static_cast<int64_t>(get("inflight_fills"))},
                {"client_connections", static_cast<int64_t>(get("client_connections"))}};
}

std::string ratio_text(const json& v) {
    if (v.is_null()) return "-";
    char buf[16];
    std::snprintf(buf, sizeof buf, "%.1f%%", v.get<double>() * 100);
    return buf;
}

int run_stats(const Context& ctx) {
    auto store = ctx.open_store(/*read_only=*/true);
    auto stats = store->stats();
    if (!stats) {
        throw CtlError(kUnavailable,
                       "cannot read the cache totals: " + cache::to_string(stats.error()));
    }
    json cache_part = {{"dir", ctx.cache_dir},
                       {"objects", stats->objects},
                       {"complete_objects", stats->complete_objects},
                       {"partial_objects", stats->partial_objects},
                       {"bytes_present", stats->bytes_present},
                       {"budget", ctx.cache_size}};
    auto daemon = daemon_figures(ctx);
    if (ctx.json) {
        print_json({{"cache", cache_part}, {"daemon", daemon ? *daemon : json(nullptr)}});
        return kOk;
    }
    auto row = [](const char* name, const std::string& value) {
        std::printf("%-20s %s\n", name, value.c_str());
    };
    row("cache", ctx.cache_dir);
    row("objects", std::to_string(stats->objects) + " (" + std::to_string(stats->complete_objects) +
                       " complete, " + std::to_string(stats->partial_objects) + " partial)");
    row("bytes",
        human_size(stats->bytes_present) + " of " + human_size(ctx.cache_size) + " budget");
    if (!daemon) {
        row("daemon", ctx.no_admin ? "not asked (--no-admin)"
                                   : "not answering on " + ctx.effective_admin_url());
        return kOk;
    }
    const json& d = *daemon;
    row("daemon", d["admin_url"].get<std::string>());
    std::string by_result;
    for (const auto& [name, n] : d["requests"].items()) {
        if (n.get<uint64_t>() == 0) continue;
        by_result +=
            (by_result.empty() ? "" : ", ") + name + " " + std::to_string(n.get<uint64_t>());
    }
    row("requests", std::to_string(d["requests_total"].get<uint64_t>()) +
                        (by_result.empty() ? "" : " (" + by_result + ")"));
    row("hit ratio", ratio_text(d["hit_ratio"]));
    row("bytes from cache", human_size(d["bytes_from_cache"].get<uint64_t>()));
    row("bytes from upstream", human_size(d["bytes_from_upstream"].get<uint64_t>()));
    row("byte hit ratio", ratio_text(d["byte_hit_ratio"]));
    row("resumes", std::to_string(d["resumes"].get<uint64_t>()) + " (retries " +
                       std::to_string(d["retries"].get<uint64_t>()) + ", give-ups " +
                       std::to_string(d["give_ups"].get<uint64_t>()) + ")");
    row("inflight fills", std::to_string(d["inflight_fills"].get<int64_t>()));
    return kOk;
}

}  // namespace

void add_stats(CLI::App& app, Context& ctx, Runner& chosen) {
    auto* cmd = app.add_subcommand(
        "stats",
        "Cache totals; with a running dlproxy also hit ratio, bytes from cache and "
        "upstream, resumes");
    cmd->callback([&ctx, &chosen] { chosen = [&ctx] { return run_stats(ctx); }; });
}

}  // namespace ctl
