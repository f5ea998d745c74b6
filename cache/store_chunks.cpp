// Store: writing, verifying and reading chunks.
#include <spdlog/spdlog.h>

#include <cerrno>

#include "cache/chunk_hash.h"
#include "cache/store.h"

namespace cache {

Result<void> Store::write_chunk(const ObjectInfo& object, uint32_t index,
                                std::span<const std::byte> bytes) {
    ChunkWrite chunk{index, bytes};
    return write_chunks(object, std::span(&chunk, 1));
}

Result<void> Store::write_chunks(const ObjectInfo& object, std::span<const ChunkWrite> chunks) {
    auto staged = stage_chunks(object, chunks);
    if (!staged) return policy::fail(staged.error());
    return commit_chunks(object, *staged);
}

Result<std::vector<StagedChunk>> Store::stage_chunks(const ObjectInfo& object,
                                                     std::span<const ChunkWrite> chunks) {
    if (auto writable = require_writable(); !writable) return policy::fail(writable.error());
    std::vector<Extent> extents;
    std::vector<StagedChunk> staged;
    extents.reserve(chunks.size());
    staged.reserve(chunks.size());
    for (const ChunkWrite& c : chunks) {
        if (c.index >= object.chunk_count() || c.bytes.size() != object.chunk_length(c.index)) {
            return fail(Errc::InvalidArgument);
        }
        extents.push_back({object.chunk_begin(c.index), c.bytes});
        staged.push_back({c.index, static_cast<uint32_t>(c.bytes.size()), chunk_hash(c.bytes)});
    }
    if (auto written = files_.write(object.id, extents, /*sync=*/false); !written) {
        if (written.error() == Errc::NoSpace) discard_unrecorded(object, chunks);
        return policy::fail(written.error());
    }
    return staged;
}

// A batch that failed half-way on a full disk left some of its bytes allocated, and no record
// will vouch for them: left there, they would keep the disk full (the byte budget counts only
// recorded chunks) and leave no room for the records of the chunks written before. Their blocks
// are given back, except where a chunk record exists (a chunk being written again after it was
// found bad). Best effort: this runs on an error path already.
void Store::discard_unrecorded(const ObjectInfo& object, std::span<const ChunkWrite> chunks) {
    auto txn = index_.begin_read();
    if (!txn) return;
    for (const ChunkWrite& c : chunks) {
        auto record = index_.get_chunk(*txn, object.id, c.index);
        if (!record || *record) continue;
        const uint64_t begin = object.chunk_begin(c.index);
        if (auto discarded = files_.discard(object.id, begin, begin + c.bytes.size()); !discarded) {
            spdlog::debug("cache: cannot free the unrecorded bytes of chunk {}: {}", c.index,
                          to_string(discarded.error()));
            return;
        }
    }
}

Result<void> Store::commit_chunks(const ObjectInfo& object, std::span<const StagedChunk> staged) {
    if (auto writable = require_writable(); !writable) return writable;
    if (staged.empty()) return {};
    // Bytes synced first (Sync mode), records after: a crash in between leaves bytes that no
    // record vouches for, which read as absent.
    if (auto synced = files_.sync(object.id); !synced) return synced;

    auto txn = index_.begin_write();
    if (!txn) return policy::fail(txn.error());
    auto stored = current(*txn, object);
    if (!stored) return policy::fail(stored.error());
    auto counters = index_.counters(*txn);
    if (!counters) return policy::fail(counters.error());
    for (const StagedChunk& c : staged) {
        if (c.index >= object.chunk_count() || c.length != object.chunk_length(c.index)) {
            return fail(Errc::InvalidArgument);
        }
        auto old = index_.get_chunk(*txn, object.id, c.index);
        if (!old) return policy::fail(old.error());
        if (*old) {
            stored->bytes_present -= std::min<uint64_t>(stored->bytes_present, (*old)->length);
            counters->forget_bytes((*old)->length);
        }
        detail::ChunkRecord record{c.length, c.hash, object.generation};
        if (auto put = index_.put_chunk(*txn, object.id, c.index, record); !put) return put;
        stored->bytes_present += c.length;
        counters->bytes_present += c.length;
    }
    if (auto put = index_.put_object(*txn, *stored); !put) return put;
    if (auto put = index_.put_counters(*txn, *counters); !put) return put;
    return txn->commit();
}

Result<size_t> Store::read_chunk(const ObjectInfo& object, uint32_t index,
                                 std::span<std::byte> buffer) {
    if (index >= object.chunk_count()) return fail(Errc::InvalidArgument);
    detail::ChunkRecord record;
    {
        auto txn = index_.begin_read();
        if (!txn) return policy::fail(txn.error());
        auto stored = index_.get_chunk(*txn, object.id, index);
        if (!stored) return policy::fail(stored.error());
        if (!*stored) return fail(Errc::Missing);
        record = **stored;
    }
    if (record.generation != object.generation) return fail(Errc::Stale);
    if (record.length != object.chunk_length(index)) {
        spdlog::warn("cache: chunk {} of {}: record says {} bytes, the object needs {}; dropped",
                     index, object.key, record.length, object.chunk_length(index));
        drop_chunk(object, index, record);
        return fail(Errc::Missing);
    }
    if (buffer.size() < record.length) return fail(Errc::InvalidArgument);

    auto bytes = buffer.first(record.length);
    auto read = files_.read(object.id, object.chunk_begin(index), bytes);
    if (!read && read.error() == Errc::Missing) {
        spdlog::warn("cache: chunk {} of {}: body file {} is {}; dropped", index, object.key,
                     files_.path_for(object.id).string(),
                     read.error().native == ENOENT ? "gone" : "shorter than the chunk");
        drop_chunk(object, index, record);
        return policy::fail(read.error());
    }
    if (!read) return policy::fail(read.error());

    uint64_t actual = chunk_hash(bytes);
    if (actual != record.xxh3) {
        spdlog::warn("cache: chunk {} of {}: expected xxh3 {:016x}, actual {:016x}; dropped", index,
                     object.key, record.xxh3, actual);
        drop_chunk(object, index, record);
        return fail(Errc::ChecksumMismatch);
    }
    return bytes.size();
}

Result<size_t> Store::read_staged_chunk(const ObjectInfo& object, const StagedChunk& staged,
                                        std::span<std::byte> buffer) const {
    if (staged.index >= object.chunk_count() ||
        staged.length != object.chunk_length(staged.index) || buffer.size() < staged.length) {
        return fail(Errc::InvalidArgument);
    }
    auto bytes = buffer.first(staged.length);
    if (auto read = files_.read(object.id, object.chunk_begin(staged.index), bytes); !read) {
        return policy::fail(read.error());
    }
    if (chunk_hash(bytes) != staged.hash) return fail(Errc::ChecksumMismatch);
    return bytes.size();
}

void Store::drop_chunk(const ObjectInfo& object, uint32_t index,
                       const detail::ChunkRecord& expected) {
    // A read-only store (dlproxyctl) reports bad chunks but leaves the repair to dlproxy.
    if (options_.read_only) return;
    auto dropped = [&]() -> Result<void> {
        auto txn = index_.begin_write();
        if (!txn) return policy::fail(txn.error());
        // Another thread may have rewritten the chunk since we read its record: keep that one.
        auto now = index_.get_chunk(*txn, object.id, index);
        if (!now) return policy::fail(now.error());
        if (!*now || **now != expected) return {};
        if (auto deleted = index_.delete_chunk(*txn, object.id, index); !deleted) {
            return policy::fail(deleted.error());
        }
        auto counters = index_.counters(*txn);
        if (!counters) return policy::fail(counters.error());
        counters->forget_bytes(expected.length);
        auto stored = current(*txn, object);
        if (stored) {
            stored->bytes_present -= std::min<uint64_t>(stored->bytes_present, expected.length);
            if (stored->complete()) {
                stored->state = ObjectState::Partial;
                counters->complete_objects -= std::min<uint64_t>(counters->complete_objects, 1);
            }
            if (auto put = index_.put_object(*txn, *stored); !put) return put;
        }
        if (auto put = index_.put_counters(*txn, *counters); !put) return put;
        return txn->commit();
    }();
    if (!dropped) {
        spdlog::warn("cache: could not drop chunk {} of {}: {}", index, object.key,
                     to_string(dropped.error()));
    }
}

Result<ChunkMap> Store::present_chunks(const ObjectInfo& object) const {
    auto txn = index_.begin_read();
    if (!txn) return policy::fail(txn.error());
    if (auto stored = current(*txn, object); !stored) return policy::fail(stored.error());
    ChunkMap map(static_cast<uint32_t>(object.chunk_count()));
    auto walked = index_.for_each_chunk(
        *txn, object.id, [&](uint32_t index, const detail::ChunkRecord&) { map.set(index); });
    if (!walked) return policy::fail(walked.error());
    return map;
}

}  // namespace cache
