// dlproxyctl evict, purge, gc: through the running dlproxy's admin API when it answers on
// --admin, else on the store directly (the same StoreCacheAdmin code the daemon runs).
//
// Going through the daemon matters once it tracks objects in use; opening the store directly is
// safe either way (LMDB serialises writers across processes), so a daemon that is not running
// (connection refused) is no error. One that answers with an error status is.
#include <cstdio>

#include "proxy/admin/cache_admin.h"
#include "proxy/ctl/commands.h"
#include "proxy/ctl/http_client.h"
#include "proxy/loop/clock.h"

namespace ctl {

namespace {

using nlohmann::json;

// Runs `path` with `body` on the daemon, or nullopt when no daemon listens there.
std::optional<json> via_admin(const Context& ctx, const std::string& path, const json& body) {
    if (ctx.no_admin) return std::nullopt;
    AdminClient admin(ctx.effective_admin_url(), ctx.admin_token);
    HttpReply reply = admin.post(path, body.dump());
    if (reply.not_running()) {
        if (ctx.verbose)
            std::fprintf(stderr, "dlproxyctl: no daemon at %s: using the store\n",
                         admin.base_url().c_str());
        return std::nullopt;
    }
    if (!reply.answered()) {
        throw CtlError(kUnavailable,
                       "the daemon at " + admin.base_url() + " did not answer: " + reply.error);
    }
    if (reply.status == 404 || reply.status == 409)
        throw CtlError(kProblem, first_line(reply.body));
    if (reply.status == 400) throw CtlError(kUsage, first_line(reply.body));
    if (reply.status != 200) {
        throw CtlError(kProblem, "the daemon refused: " + std::to_string(reply.status) + " " +
                                     first_line(reply.body));
    }
    json answer = json::parse(reply.body, nullptr, false);
    if (answer.is_discarded() || !answer.is_object())
        throw CtlError(kProblem, "the daemon sent a malformed answer: " + first_line(reply.body));
    answer["via"] = "admin";
    return answer;
}

template <class T>
T or_throw(proxy::AdminResult<T> result) {
    if (result) return std::move(*result);
    const auto& e = result.error();
    throw CtlError(e.code == proxy::AdminErrc::Invalid ? kUsage : kProblem, e.message);
}

// "30d", "12h", "15m", "45s", "2w" or plain seconds.
int64_t parse_age(const std::string& text) {
    size_t used = 0;
    long long n = -1;
    try {
        n = std::stoll(text, &used);
    } catch (const std::exception&) {
    }
    std::string unit = text.substr(used);
    int64_t scale = unit.empty() || unit == "s" ? 1
                    : unit == "m"               ? 60
                    : unit == "h"               ? 3600
                    : unit == "d"               ? 86400
                    : unit == "w"               ? 7 * 86400
                                                : 0;
    if (n < 0 || scale == 0 || n > 1'000'000'000'000LL)
        throw CtlError(kUsage, "--older-than: '" + text + "' is not an age like 30d, 12h or 90s");
    return n * scale;
}

void report(const Context& ctx, const json& answer, const std::string& text) {
    if (ctx.json)
        print_json(answer);
    else
        std::printf("%s (via %s)\n", text.c_str(), answer.value("via", "store").c_str());
}

int run_evict(const Context& ctx, const std::string& target) {
    json body = proxy::looks_like_object_id(target) ? json{{"id", target}} : json{{"url", target}};
    auto answer = via_admin(ctx, "/cache/evict", body);
    if (!answer) {
        auto store = ctx.open_store(/*read_only=*/false);
        auto removed = or_throw(proxy::StoreCacheAdmin(*store).evict(target));
        answer =
            json{{"evicted", removed.objects}, {"bytes_freed", removed.bytes}, {"via", "store"}};
    }
    report(ctx, *answer,
           "evicted " + target + ", " + human_size((*answer)["bytes_freed"].get<uint64_t>()) +
               " freed");
    return kOk;
}

struct PurgeOptions {
    bool all = false;
    std::string older_than;
    bool partial = false;
};

int run_purge(const Context& ctx, const PurgeOptions& opt) {
    proxy::PurgeFilter filter;
    filter.all = opt.all;
    filter.partial = opt.partial;
    if (!opt.older_than.empty()) filter.older_than_seconds = parse_age(opt.older_than);
    if (filter.empty()) throw CtlError(kUsage, "purge: give --all, --older-than AGE or --partial");
    if (filter.all && (filter.partial || filter.older_than_seconds))
        throw CtlError(kUsage, "purge: --all cannot be combined with other filters");
    json body = json::object();
    if (filter.all) body["all"] = true;
    if (filter.partial) body["partial"] = true;
    if (filter.older_than_seconds) body["older_than_seconds"] = *filter.older_than_seconds;
    auto answer = via_admin(ctx, "/cache/purge", body);
    if (!answer) {
        auto store = ctx.open_store(/*read_only=*/false);
        auto removed =
            or_throw(proxy::StoreCacheAdmin(*store).purge(filter, proxy::wall_seconds()));
        answer =
            json{{"purged", removed.objects}, {"bytes_freed", removed.bytes}, {"via", "store"}};
    }
    report(ctx, *answer,
           "purged " + std::to_string((*answer)["purged"].get<uint64_t>()) + " object(s), " +
               human_size((*answer)["bytes_freed"].get<uint64_t>()) + " freed");
    return kOk;
}

int run_gc(const Context& ctx) {
    auto answer = via_admin(ctx, "/cache/gc", json::object());
    if (!answer) {
        auto store = ctx.open_store(/*read_only=*/false);
        auto r = or_throw(proxy::StoreCacheAdmin(*store).gc());
        answer = json{{"objects_removed", r.objects_removed},
                      {"bytes_freed", r.bytes_freed},
                      {"orphan_files_removed", r.orphan_files_removed},
                      {"bytes_present", r.bytes_present},
                      {"via", "store"}};
    }
    const json& a = *answer;
    report(ctx, a,
           "gc: evicted " + std::to_string(a["objects_removed"].get<uint64_t>()) + " object(s) (" +
               human_size(a["bytes_freed"].get<uint64_t>()) + "), removed " +
               std::to_string(a["orphan_files_removed"].get<uint64_t>()) + " orphaned file(s); " +
               human_size(a["bytes_present"].get<uint64_t>()) + " present");
    return kOk;
}

}  // namespace

void add_mutations(CLI::App& app, Context& ctx, Runner& chosen) {
    auto target = std::make_shared<std::string>();
    auto* evict = app.add_subcommand("evict", "Remove one object from the cache");
    evict->add_option("target", *target, "the object's URL or id")->required();
    evict->callback(
        [&ctx, &chosen, target] { chosen = [&ctx, target] { return run_evict(ctx, *target); }; });

    auto opt = std::make_shared<PurgeOptions>();
    auto* purge = app.add_subcommand("purge",
                                     "Remove many objects: --all, --older-than AGE "
                                     "(last access), --partial");
    purge->add_flag("--all", opt->all, "every object");
    purge->add_option("--older-than", opt->older_than,
                      "objects not accessed for AGE: 30d, 12h, 15m, 90s, 2w");
    purge->add_flag("--partial", opt->partial, "objects not completely cached");
    purge->callback(
        [&ctx, &chosen, opt] { chosen = [&ctx, opt] { return run_purge(ctx, *opt); }; });

    auto* gc = app.add_subcommand(
        "gc", "Evict least recently used objects down to cache_size; delete orphaned body files");
    gc->callback([&ctx, &chosen] { chosen = [&ctx] { return run_gc(ctx); }; });
}

}  // namespace ctl
