// Store: eviction by byte budget and removal of orphaned body files.
#include <spdlog/spdlog.h>

#include "cache/eviction_choice.h"
#include "cache/store.h"

namespace cache {

namespace {

// What the snapshot saw of an object, to spot one touched or replaced before the delete.
struct Seen {
    ObjectId id;
    uint64_t generation = 0;
    int64_t last_access = 0;
};

}  // namespace

Result<EvictionReport> Store::evict_to_budget(uint64_t budget, std::span<const ObjectId> in_use,
                                              int64_t fill_since) {
    if (auto writable = require_writable(); !writable) return policy::fail(writable.error());

    // Choose from a read snapshot so the writer lock is not held while scanning every record.
    EvictionReport report;
    std::vector<EvictionCandidate> victims;
    std::vector<Seen> seen;  // in id order, as the objects database is walked
    {
        auto txn = index_.begin_read();
        if (!txn) return policy::fail(txn.error());
        auto counters = index_.counters(*txn);
        if (!counters) return policy::fail(counters.error());
        report.bytes_present = counters->bytes_present;
        if (counters->bytes_present <= budget) return report;
        std::vector<EvictionCandidate> candidates;
        auto walked = index_.for_each_object(*txn, [&](ObjectInfo&& o) {
            // Evicting an object being filled loses its record while its chunks are still
            // written: the fill stops caching and its body file is left behind (an orphan).
            if (!o.complete() && o.created >= fill_since) return;
            candidates.push_back({o.id, o.last_access, o.bytes_present, o.generation});
            seen.push_back({o.id, o.generation, o.last_access});
        });
        if (!walked) return policy::fail(walked.error());
        victims = choose_victims(std::move(candidates), counters->bytes_present, budget, in_use);
    }
    if (victims.empty()) return report;

    // One write transaction removes every victim that is still as we saw it; an object touched
    // or replaced since the snapshot is in use again and stays.
    std::vector<ObjectId> removed;
    auto txn = index_.begin_write();
    if (!txn) return policy::fail(txn.error());
    auto counters = index_.counters(*txn);
    if (!counters) return policy::fail(counters.error());
    for (const EvictionCandidate& victim : victims) {
        auto stored = index_.get_object(*txn, victim.id);
        if (!stored) return policy::fail(stored.error());
        auto was = std::lower_bound(seen.begin(), seen.end(), victim.id,
                                    [](const Seen& s, const ObjectId& id) { return s.id < id; });
        if (!*stored || (*stored)->generation != was->generation ||
            (*stored)->last_access != was->last_access) {
            continue;
        }
        counters->forget_object(**stored);
        if (auto deleted = index_.delete_object(*txn, victim.id); !deleted) {
            return policy::fail(deleted.error());
        }
        report.objects_removed += 1;
        report.bytes_freed += (*stored)->bytes_present;
        removed.push_back(victim.id);
    }
    if (auto put = index_.put_counters(*txn, *counters); !put) return policy::fail(put.error());
    if (auto committed = txn->commit(); !committed) return policy::fail(committed.error());
    report.bytes_present = counters->bytes_present;

    // Records are gone; now the bytes. A crash here leaves orphan files for
    // remove_orphan_files(), never a record without its bytes accounted for.
    for (const ObjectId& id : removed) {
        if (auto unlinked = files_.remove(id); !unlinked) {
            spdlog::warn("cache: evicted {} but could not delete its body file: {}", id.hex(),
                         to_string(unlinked.error()));
        }
    }
    return report;
}

Result<uint64_t> Store::remove_orphan_files() {
    if (auto writable = require_writable(); !writable) return policy::fail(writable.error());
    std::vector<ObjectId> files;
    if (auto listed = files_.for_each_file([&](const ObjectId& id) { files.push_back(id); });
        !listed) {
        return policy::fail(listed.error());
    }
    std::vector<ObjectId> orphans;
    {
        auto txn = index_.begin_read();
        if (!txn) return policy::fail(txn.error());
        for (const ObjectId& id : files) {
            auto stored = index_.get_object(*txn, id);
            if (stored && !*stored) orphans.push_back(id);
        }
    }
    for (const ObjectId& id : orphans) {
        if (auto unlinked = files_.remove(id); !unlinked) return policy::fail(unlinked.error());
    }
    if (!orphans.empty()) spdlog::info("cache: removed {} orphaned body files", orphans.size());
    return orphans.size();
}

}  // namespace cache
