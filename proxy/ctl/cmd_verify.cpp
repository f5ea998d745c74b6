// dlproxyctl verify: recompute the XXH3 of every present chunk (Store::read_chunk does the
// hashing and the comparison with the chunk record).
//
// On a read-only store (the default) a bad chunk is reported and left alone: dlproxy drops it
// itself the next time it reads it. --repair opens the store for writing, and then read_chunk
// drops the record of every bad chunk, so the object turns partial and those bytes are fetched
// again.
#include <cstdio>

#include "proxy/ctl/commands.h"

namespace ctl {

namespace {

struct VerifyOptions {
    std::string target;
    bool all = false;
    bool repair = false;
};

struct BadChunk {
    std::string id, url;
    uint32_t index = 0;
    uint64_t begin = 0, end = 0;
    std::string error;
};

struct Tally {
    uint64_t objects = 0, chunks = 0, bytes = 0, skipped = 0;
    std::vector<BadChunk> bad;
};

void verify_object(cache::Store& store, const cache::ObjectInfo& o, std::vector<std::byte>& buf,
                   Tally& tally) {
    auto map = store.present_chunks(o);
    if (!map) {
        // Stale: replaced or removed since it was listed; nothing of this version to check.
        ++tally.skipped;
        return;
    }
    ++tally.objects;
    if (buf.size() < o.chunk_size) buf.resize(o.chunk_size);
    for (uint32_t i = 0; i < map->size(); ++i) {
        if (!map->contains(i)) continue;
        auto read = store.read_chunk(o, i, buf);
        if (read) {
            ++tally.chunks;
            tally.bytes += *read;
            continue;
        }
        if (read.error() == cache::Errc::Stale) {
            ++tally.skipped;
            return;
        }
        uint64_t begin = o.chunk_begin(i);
        tally.bad.push_back({o.id.hex(), o.key, i, begin, begin + o.chunk_length(i),
                             read.error() == cache::Errc::ChecksumMismatch
                                 ? "checksum mismatch"
                                 : cache::to_string(read.error())});
    }
}

int run_verify(const Context& ctx, const VerifyOptions& opt) {
    if (opt.all == !opt.target.empty())
        throw CtlError(kUsage, "verify: give one URL or id, or --all");
    auto store = ctx.open_store(/*read_only=*/!opt.repair);
    std::vector<cache::ObjectInfo> objects;
    if (opt.all) {
        auto listed = store->list();
        if (!listed) {
            throw CtlError(kUnavailable,
                           "cannot list the cache: " + cache::to_string(listed.error()));
        }
        objects = std::move(*listed);
    } else {
        objects.push_back(require_object(*store, opt.target));
    }
    Tally tally;
    std::vector<std::byte> buf;
    for (const auto& o : objects)
        verify_object(*store, o, buf, tally);

    if (ctx.json) {
        nlohmann::json bad = nlohmann::json::array();
        for (const auto& b : tally.bad) {
            bad.push_back({{"id", b.id},
                           {"url", b.url},
                           {"chunk", b.index},
                           {"begin", b.begin},
                           {"end", b.end},
                           {"error", b.error}});
        }
        print_json({{"objects", tally.objects},
                    {"chunks_ok", tally.chunks},
                    {"bytes_ok", tally.bytes},
                    {"skipped", tally.skipped},
                    {"bad_chunks", bad},
                    {"repaired", opt.repair && !tally.bad.empty()}});
    } else {
        for (const auto& b : tally.bad) {
            std::printf("BAD  %s chunk %u bytes [%llu, %llu): %s\n", b.url.c_str(), b.index,
                        static_cast<unsigned long long>(b.begin),
                        static_cast<unsigned long long>(b.end), b.error.c_str());
        }
        std::printf("verified %llu object(s), %llu chunk(s), %s: %zu bad chunk(s)%s\n",
                    static_cast<unsigned long long>(tally.objects),
                    static_cast<unsigned long long>(tally.chunks), human_size(tally.bytes).c_str(),
                    tally.bad.size(),
                    tally.skipped ? " (some objects changed while verifying; skipped)" : "");
        if (!tally.bad.empty()) {
            std::printf(opt.repair ? "dropped the bad chunks: they will be fetched again\n"
                                   : "run `dlproxyctl verify --repair` to drop them (or let "
                                     "dlproxy drop them when it next reads them)\n");
        }
    }
    return tally.bad.empty() ? kOk : kProblem;
}

}  // namespace

void add_verify(CLI::App& app, Context& ctx, Runner& chosen) {
    auto opt = std::make_shared<VerifyOptions>();
    auto* cmd = app.add_subcommand(
        "verify", "Recompute every present chunk's checksum; exit 1 when one is bad");
    cmd->add_option("target", opt->target, "the object's URL or id");
    cmd->add_flag("--all", opt->all, "verify every object");
    cmd->add_flag("--repair", opt->repair,
                  "drop the records of bad chunks (opens the store for writing)");
    cmd->callback([&ctx, &chosen, opt] { chosen = [&ctx, opt] { return run_verify(ctx, *opt); }; });
}

}  // namespace ctl
