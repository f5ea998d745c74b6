// dlproxyctl ls: every cached object, one line each.
#include <algorithm>
#include <cstdio>
#include <set>

#include "proxy/ctl/commands.h"
#include "proxy/ctl/http_client.h"

namespace ctl {

namespace {

struct LsOptions {
    std::string sort = "url";
    std::string state;
    std::string grep;
};

// Keys of the objects a running dlproxy is filling now (GET /status), or none without a daemon.
std::set<std::string> filling_keys(const Context& ctx) {
    std::set<std::string> keys;
    if (ctx.no_admin) return keys;
    AdminClient admin(ctx.effective_admin_url(), ctx.admin_token);
    HttpReply reply = admin.get("/status");
    if (!reply.answered() || reply.status != 200) return keys;
    auto status = nlohmann::json::parse(reply.body, nullptr, /*allow_exceptions=*/false);
    if (!status.is_object() || !status.contains("inflight_fills")) return keys;
    for (const auto& f : status["inflight_fills"])
        if (f.is_object() && f.contains("key") && f["key"].is_string())
            keys.insert(f["key"].get<std::string>());
    return keys;
}

int run_ls(const Context& ctx, const LsOptions& opt) {
    const std::set<std::string> filling = filling_keys(ctx);
    // complete / partial from the index; partial objects a running dlproxy is fetching: filling.
    auto state_of = [&](const cache::ObjectInfo& o) -> std::string_view {
        if (!o.complete() && filling.contains(o.key)) return "filling";
        return state_name(o);
    };
    auto store = ctx.open_store(/*read_only=*/true);
    auto listed = store->list();
    if (!listed) {
        throw CtlError(kUnavailable, "cannot list the cache: " + cache::to_string(listed.error()));
    }
    std::vector<cache::ObjectInfo>& all = *listed;
    std::erase_if(all, [&](const cache::ObjectInfo& o) {
        if (!opt.state.empty() && state_of(o) != opt.state) return true;
        return !opt.grep.empty() && o.key.find(opt.grep) == std::string::npos;
    });
    // url ascending; the others largest / most recent first, ties by url.
    auto by = [&](auto field) {
        std::sort(all.begin(), all.end(), [&](const auto& a, const auto& b) {
            auto fa = field(a), fb = field(b);
            return fa != fb ? fa > fb : a.key < b.key;
        });
    };
    if (opt.sort == "size")
        by([](const cache::ObjectInfo& o) { return o.complete_length; });
    else if (opt.sort == "access")
        by([](const cache::ObjectInfo& o) { return o.last_access; });
    else if (opt.sort == "hits")
        by([](const cache::ObjectInfo& o) { return o.hit_count; });
    else
        std::sort(all.begin(), all.end(),
                  [](const auto& a, const auto& b) { return a.key < b.key; });

    if (ctx.json) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& o : all) {
            out.push_back({{"id", o.id.hex()},
                           {"url", o.key},
                           {"status", o.status},
                           {"size", o.complete_length},
                           {"bytes_present", o.bytes_present},
                           {"state", state_of(o)},
                           {"content", cache::to_string(o.content_check)},
                           {"sha256", o.sha256},
                           {"hits", o.hit_count},
                           {"created", o.created},
                           {"last_access", o.last_access}});
        }
        print_json(out);
        return kOk;
    }
    uint64_t present = 0, total = 0;
    std::string out;
    out.reserve(all.size() * 120 + 128);
    char line[112];
    std::snprintf(line, sizeof line, "%-9s %7s %-8s %-10s %6s  %-20s  %s\n", "SIZE", "PRESENT",
                  "STATE", "CONTENT", "HITS", "LAST ACCESS (UTC)", "URL");
    out += line;
    for (const auto& o : all) {
        std::snprintf(line, sizeof line, "%-9s %7s %-8s %-10s %6llu  %-20s  ",
                      human_size(o.complete_length).c_str(), percent_present(o).c_str(),
                      std::string(state_of(o)).c_str(),
                      std::string(cache::to_string(o.content_check)).c_str(),
                      static_cast<unsigned long long>(o.hit_count),
                      utc_time(o.last_access).c_str());
        out += line;
        out += o.key;
        out += '\n';
        present += o.bytes_present;
        total += o.complete_length;
    }
    out += std::to_string(all.size()) + (all.size() == 1 ? " object, " : " objects, ") +
           human_size(present) + " present of " + human_size(total) + "\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
    return kOk;
}

}  // namespace

void add_ls(CLI::App& app, Context& ctx, Runner& chosen) {
    auto opt = std::make_shared<LsOptions>();
    auto* cmd = app.add_subcommand("ls",
                                   "List cached objects: size, % present, state, hits, "
                                   "last access, URL");
    cmd->add_option("--sort", opt->sort, "order: url (default), size, access, hits")
        ->check(CLI::IsMember({"url", "size", "access", "hits"}));
    cmd->add_option("--state", opt->state,
                    "only complete, partial or filling (being fetched by dlproxy) objects")
        ->check(CLI::IsMember({"complete", "partial", "filling"}));
    cmd->add_option("--grep", opt->grep, "only URLs containing TEXT");
    cmd->callback([&ctx, &chosen, opt] { chosen = [&ctx, opt] { return run_ls(ctx, *opt); }; });
}

}  // namespace ctl
