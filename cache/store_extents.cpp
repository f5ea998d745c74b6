// Store: sparse objects made of extents at any offsets (Xet xorbs; extent_record.h).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>

#include "cache/chunk_hash.h"
#include "cache/store.h"

namespace cache {

namespace {

struct Stored {
    uint64_t start = 0;
    detail::ExtentRecord record;
    uint64_t end() const { return start + record.length; }
};

// The parts of [begin, end) no extent in `have` (sorted, disjoint) covers.
std::vector<policy::ByteRange> gaps(const std::vector<Stored>& have, uint64_t begin, uint64_t end) {
    std::vector<policy::ByteRange> out;
    uint64_t pos = begin;
    for (const Stored& e : have) {
        if (e.end() <= pos) continue;
        if (e.start >= end) break;
        if (e.start > pos) out.push_back({pos, e.start});
        pos = std::max(pos, e.end());
        if (pos >= end) break;
    }
    if (pos < end) out.push_back({pos, end});
    return out;
}

Result<std::vector<Stored>> extents_of(const Index& index, const Txn& txn, const ObjectInfo& o) {
    std::vector<Stored> out;
    auto walked =
        index.for_each_extent(txn, o.id, [&](uint64_t start, const detail::ExtentRecord& r) {
            if (r.generation == o.generation) out.push_back({start, r});
        });
    if (!walked) return policy::fail(walked.error());
    return out;
}

detail::ExtentRecord record_for(std::span<const std::byte> bytes, uint32_t piece, uint64_t gen) {
    detail::ExtentRecord r{gen, bytes.size(), piece, {}};
    r.hashes.reserve(r.piece_count());
    for (uint64_t at = 0; at < bytes.size(); at += piece) {
        auto p = bytes.subspan(at, std::min<uint64_t>(piece, bytes.size() - at));
        r.hashes.push_back(chunk_hash(p));
    }
    return r;
}

}  // namespace

Result<uint64_t> Store::put_extents(const ObjectHead& head, std::span<const ExtentWrite> writes,
                                    int64_t now) {
    if (auto writable = require_writable(); !writable) return policy::fail(writable.error());
    for (const ExtentWrite& w : writes)
        if (w.offset > head.complete_length || w.bytes.size() > head.complete_length - w.offset)
            return fail(Errc::InvalidArgument);
    auto found = lookup(head.key);
    if (!found) return policy::fail(found.error());
    ObjectInfo object;
    if (*found && (*found)->complete_length == head.complete_length) {
        object = std::move(**found);
    } else {
        auto created = begin_object(head, now);
        if (!created) return policy::fail(created.error());
        object = std::move(*created);
    }

    // What is new, read outside the write transaction (the bytes go to disk before it).
    std::vector<Extent> fresh;
    {
        auto txn = index_.begin_read();
        if (!txn) return policy::fail(txn.error());
        auto have = extents_of(index_, *txn, object);
        if (!have) return policy::fail(have.error());
        for (const ExtentWrite& w : writes) {
            for (policy::ByteRange g : gaps(*have, w.offset, w.offset + w.bytes.size())) {
                fresh.push_back({g.begin, w.bytes.subspan(g.begin - w.offset, g.length())});
                // Two writes in one call may overlap each other: the first one wins.
                have->push_back({g.begin, {0, g.length(), 1, {}}});
                std::sort(have->begin(), have->end(),
                          [](const Stored& a, const Stored& b) { return a.start < b.start; });
            }
        }
    }
    if (fresh.empty()) return uint64_t{0};
    if (auto written = files_.write(object.id, fresh, /*sync=*/false); !written)
        return policy::fail(written.error());
    // Bytes synced first (Sync mode), records after: as for chunks.
    if (auto synced = files_.sync(object.id); !synced) return policy::fail(synced.error());

    auto txn = index_.begin_write();
    if (!txn) return policy::fail(txn.error());
    auto stored = current(*txn, object);
    if (!stored) return policy::fail(stored.error());
    auto counters = index_.counters(*txn);
    if (!counters) return policy::fail(counters.error());
    auto have = extents_of(index_, *txn, object);
    if (!have) return policy::fail(have.error());
    uint64_t recorded = 0;
    for (const Extent& e : fresh) {
        // A concurrent writer may have recorded part of it since our read: keep theirs and
        // record only what is still uncovered (hashed anew: pieces count from a record's start).
        for (policy::ByteRange g : gaps(*have, e.offset, e.offset + e.bytes.size())) {
            auto bytes = e.bytes.subspan(g.begin - e.offset, g.length());
            auto record = record_for(bytes, object.chunk_size, object.generation);
            if (auto put = index_.put_extent(*txn, object.id, g.begin, record); !put)
                return policy::fail(put.error());
            recorded += g.length();
        }
    }
    stored->bytes_present += recorded;
    stored->last_access = now;
    counters->bytes_present += recorded;
    if (auto put = index_.put_object(*txn, *stored); !put) return policy::fail(put.error());
    if (auto put = index_.put_counters(*txn, *counters); !put) return policy::fail(put.error());
    if (auto committed = txn->commit(); !committed) return policy::fail(committed.error());
    return recorded;
}

Result<void> Store::read_extents(const ObjectInfo& object,
                                 std::span<const policy::ByteRange> ranges,
                                 std::vector<std::byte>& out) {
    std::vector<Stored> have;
    {
        auto txn = index_.begin_read();
        if (!txn) return policy::fail(txn.error());
        if (auto stored = current(*txn, object); !stored) return policy::fail(stored.error());
        auto walked = extents_of(index_, *txn, object);
        if (!walked) return policy::fail(walked.error());
        have = std::move(*walked);
    }
    // Everything covered? Checked before any byte is read.
    for (policy::ByteRange r : ranges) {
        if (r.end > object.complete_length || r.empty()) return fail(Errc::InvalidArgument);
        if (!gaps(have, r.begin, r.end).empty()) return fail(Errc::Missing);
    }
    std::vector<std::byte> piece;
    const Stored* piece_extent = nullptr;
    uint64_t piece_begin = 0;
    for (policy::ByteRange r : ranges) {
        uint64_t pos = r.begin;
        while (pos < r.end) {
            auto it = std::upper_bound(have.begin(), have.end(), pos,
                                       [](uint64_t p, const Stored& e) { return p < e.start; });
            const Stored& e = *(it - 1);  // covered: some extent starts at or before pos
            const uint64_t size = e.record.piece_size;
            const uint64_t k = (pos - e.start) / size;
            const uint64_t begin = e.start + k * size;
            const uint64_t end = std::min(begin + size, e.end());
            if (piece_extent != &e || piece_begin != begin) {
                piece.resize(end - begin);
                auto read = files_.read(object.id, begin, piece);
                const bool bad = read && chunk_hash(piece) != e.record.hashes[k];
                if (!read || bad) {
                    if (read || read.error() == Errc::Missing) {
                        spdlog::warn("cache: extent {}+{} of {}: piece at {} {}; dropped", e.start,
                                     e.record.length, object.key, begin,
                                     bad ? "failed its xxh3" : "is gone or short");
                        drop_extent(object, e.start, e.record);
                    }
                    if (bad) return fail(Errc::ChecksumMismatch);
                    return policy::fail(read.error());
                }
                piece_extent = &e;
                piece_begin = begin;
            }
            const uint64_t stop = std::min(end, r.end);
            out.insert(out.end(), piece.begin() + static_cast<ptrdiff_t>(pos - begin),
                       piece.begin() + static_cast<ptrdiff_t>(stop - begin));
            pos = stop;
        }
    }
    return {};
}

Result<std::vector<policy::ByteRange>> Store::present_extents(const ObjectInfo& object) const {
    auto txn = index_.begin_read();
    if (!txn) return policy::fail(txn.error());
    if (auto stored = current(*txn, object); !stored) return policy::fail(stored.error());
    auto have = extents_of(index_, *txn, object);
    if (!have) return policy::fail(have.error());
    std::vector<policy::ByteRange> out;
    for (const Stored& e : *have)
        out.push_back({e.start, e.end()});
    return out;
}

void Store::drop_extent(const ObjectInfo& object, uint64_t start,
                        const detail::ExtentRecord& expected) {
    if (options_.read_only) return;  // dlproxyctl reports; dlproxy repairs
    auto dropped = [&]() -> Result<void> {
        auto txn = index_.begin_write();
        if (!txn) return policy::fail(txn.error());
        bool same = false;
        auto walked =
            index_.for_each_extent(*txn, object.id, [&](uint64_t s, const detail::ExtentRecord& r) {
                same = same || (s == start && r == expected);
            });
        if (!walked) return walked;
        if (!same) return {};  // rewritten meanwhile: keep that one
        if (auto deleted = index_.delete_extent(*txn, object.id, start); !deleted)
            return policy::fail(deleted.error());
        auto counters = index_.counters(*txn);
        if (!counters) return policy::fail(counters.error());
        counters->forget_bytes(expected.length);
        if (auto stored = current(*txn, object)) {
            stored->bytes_present -= std::min<uint64_t>(stored->bytes_present, expected.length);
            if (auto put = index_.put_object(*txn, *stored); !put) return put;
        }
        if (auto put = index_.put_counters(*txn, *counters); !put) return put;
        return txn->commit();
    }();
    if (!dropped)
        spdlog::warn("cache: could not drop extent {} of {}: {}", start, object.key,
                     to_string(dropped.error()));
}

}  // namespace cache
