// dlproxyctl show: everything the index knows about one object.
#include <cstdio>

#include "cache/body_files.h"
#include "proxy/ctl/commands.h"

namespace ctl {

namespace {

std::string ranges_text(const nlohmann::json& ranges) {
    if (ranges.empty()) return "none";
    std::string out;
    for (const auto& r : ranges) {
        if (!out.empty()) out += ", ";
        out += "[" + std::to_string(r[0].get<uint64_t>()) + ", " +
               std::to_string(r[1].get<uint64_t>()) + ")";
    }
    return out;
}

int run_show(const Context& ctx, const std::string& target) {
    auto store = ctx.open_store(/*read_only=*/true);
    cache::ObjectInfo o = require_object(*store, target);
    auto map = store->present_chunks(o);
    if (!map) {
        throw CtlError(kProblem,
                       "cannot read the chunks of " + o.key + ": " + cache::to_string(map.error()));
    }
    nlohmann::json ranges = present_ranges(o, *map);
    const std::string body_file =
        std::filesystem::absolute(cache::BodyFiles(store->dir() / "data", false).path_for(o.id))
            .string();

    if (ctx.json) {
        nlohmann::json headers = nlohmann::json::array();
        for (const auto& h : o.headers)
            headers.push_back({h.name, h.value});
        print_json({{"id", o.id.hex()},
                    {"url", o.key},
                    {"status", o.status},
                    {"state", state_name(o)},
                    {"size", o.complete_length},
                    {"bytes_present", o.bytes_present},
                    {"chunk_size", o.chunk_size},
                    {"chunk_count", o.chunk_count()},
                    {"chunks_present", map->present_count()},
                    {"present_ranges", ranges},
                    {"validator",
                     {{"etag", o.validator.etag}, {"last_modified", o.validator.last_modified}}},
                    {"body_file", body_file},
                    {"content", cache::to_string(o.content_check)},
                    {"sha256", o.sha256},
                    {"announced_sha256", o.announced_sha256},
                    {"generation", o.generation},
                    {"created", o.created},
                    {"last_access", o.last_access},
                    {"hits", o.hit_count},
                    {"request_time", o.request_time},
                    {"response_time", o.response_time},
                    {"headers", headers}});
        return kOk;
    }
    auto row = [](const char* name, const std::string& value) {
        std::printf("%-14s %s\n", name, value.c_str());
    };
    row("url", o.key);
    row("id", o.id.hex());
    row("status", std::to_string(o.status));
    row("state", std::string(state_name(o)) + " (" + std::to_string(map->present_count()) + " of " +
                     std::to_string(o.chunk_count()) + " chunks, " + percent_present(o) + ")");
    row("size",
        human_size(o.complete_length) + " (" + std::to_string(o.complete_length) + " bytes)");
    row("present", std::to_string(o.bytes_present) + " bytes: " + ranges_text(ranges));
    row("chunks", std::to_string(o.chunk_count()) + " x " + human_size(o.chunk_size) + " (" +
                      std::to_string(o.chunk_size) + " bytes)");
    // The stored validator (what If-Range carries on a resume): a strong ETag, else Last-Modified.
    std::string validator = o.validator.etag.empty() ? "" : "ETag " + o.validator.etag;
    if (!o.validator.last_modified.empty())
        validator +=
            (validator.empty() ? "" : ", ") + ("Last-Modified " + o.validator.last_modified);
    row("validator", validator.empty() ? "none (a resume cannot be checked)" : validator);
    row("body file", body_file);
    // The end-to-end check (docs/model-hosts.md "Verification").
    std::string content(cache::to_string(o.content_check));
    if (o.sha256.empty())
        content += " (no sha256: none was announced to check it against, or not computed yet)";
    if (o.content_check == cache::ContentCheck::Mismatch) content += ": quarantined, never a hit";
    row("content", content);
    if (!o.sha256.empty()) row("sha256", o.sha256);
    if (!o.announced_sha256.empty()) row("announced", o.announced_sha256);
    row("created", utc_time(o.created));
    row("last access", utc_time(o.last_access));
    row("hits", std::to_string(o.hit_count));
    row("response time", utc_time(o.response_time));
    std::printf("headers\n");
    for (const auto& h : o.headers)
        std::printf("  %s: %s\n", h.name.c_str(), h.value.c_str());
    return kOk;
}

}  // namespace

nlohmann::json present_ranges(const cache::ObjectInfo& object, const cache::ChunkMap& map) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& run : map.present_runs()) {
        uint64_t begin = object.chunk_begin(run.first);
        uint64_t end = object.chunk_begin(run.last - 1) + object.chunk_length(run.last - 1);
        out.push_back({begin, end});
    }
    return out;
}

void add_show(CLI::App& app, Context& ctx, Runner& chosen) {
    auto target = std::make_shared<std::string>();
    auto* cmd = app.add_subcommand(
        "show", "Show one object: stored headers, validators, present byte ranges, body file");
    cmd->add_option("target", *target, "the object's URL or id (32 hex digits, see ls --json)")
        ->required();
    cmd->callback(
        [&ctx, &chosen, target] { chosen = [&ctx, target] { return run_show(ctx, *target); }; });
}

}  // namespace ctl
