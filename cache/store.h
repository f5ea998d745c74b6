// Store: the cache on disk — an LMDB index (index.h) and one sparse body file per object
// (body_files.h) under one directory:
//
//   <dir>/index/data.mdb, lock.mdb   objects, chunks, meta
//   <dir>/data/xx/<object-id>.body   chunk i at offset i * chunk_size
//
// Contract for the proxy:
// - Calls are synchronous and short-lived; none keeps a transaction or a file open after it
//   returns. The proxy chooses the thread: calls that write (begin_object, write_chunk(s),
//   read_chunk when it has to drop a bad chunk, mark_complete, update_headers, touch, remove,
//   evict_to_budget) take LMDB's single writer lock and may fsync, so they belong on worker
//   threads. lookup, present_chunks, list and stats only read the index and may run on the loop.
//   forbid_blocking_on() names the loop thread; from then on a write-transaction begin or commit,
//   an fsync/fdatasync or a body unlink on that thread fails an assert (blocking_guard.h).
// - A Store may be used from several threads at once. LMDB serialises writers (across processes
//   too); readers never wait.
// - Errors are values (errors.h); nothing here throws. The store logs only what it decides
//   itself (a chunk dropped after failed verification, a record it skipped); the caller logs the
//   rest.
// - Every ObjectInfo carries the object's generation. Calls given an ObjectInfo from before the
//   object was replaced or removed fail with Errc::Stale and change nothing, so bytes of two
//   responses are never mixed.
// - Crash safety: bytes are written (and in Sync mode fdatasync'ed) before the chunk record that
//   vouches for them is committed; records are deleted before their bytes. After a kill -9 at any
//   moment the index is consistent; unrecorded bytes are simply absent chunks. Every read verifies
//   XXH3-64 anyway, so even bytes lost with an OS crash under NoSync read as missing, never wrong.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include "cache/blocking_guard.h"
#include "cache/body_files.h"
#include "cache/chunk_map.h"
#include "cache/errors.h"
#include "cache/index.h"
#include "cache/object_info.h"
#include "policy/byte_range.h"

namespace cache {

enum class Durability {
    Sync,    // fdatasync body bytes before recording them; LMDB commits are durable
    NoSync,  // no fsync at all: survives a process crash, not a power loss (reads still verify)
};

struct Options {
    uint64_t max_bytes = 0;  // the byte budget; the proxy passes it to evict_to_budget()
    Durability durability = Durability::Sync;
    uint32_t chunk_size = kDefaultChunkSize;  // for objects created from now on
    uint64_t map_size = uint64_t{64} << 30;   // LMDB address space, sparse on disk
    bool read_only = false;                   // dlproxyctl while dlproxy runs
};

struct Stats {
    uint64_t objects = 0;
    uint64_t complete_objects = 0;
    uint64_t partial_objects = 0;
    uint64_t bytes_present = 0;  // sum of recorded chunk lengths
};

struct ChunkWrite {
    uint32_t index = 0;
    std::span<const std::byte> bytes;  // exactly ObjectInfo::chunk_length(index) bytes
};

// A chunk whose bytes are written (not yet synced) but not yet recorded: what commit_chunks needs.
struct StagedChunk {
    uint32_t index = 0;
    uint32_t length = 0;
    uint64_t hash = 0;  // XXH3-64 of the bytes written
};

// Bytes of a sparse object at `offset` (put_extents).
struct ExtentWrite {
    uint64_t offset = 0;
    std::span<const std::byte> bytes;
};

struct EvictionReport {
    uint64_t objects_removed = 0;
    uint64_t bytes_freed = 0;
    uint64_t bytes_present = 0;  // after eviction; may stay above budget if in-use objects fill it
};

class Store {
  public:
    // Opens `dir`, creating it and an empty index unless read-only. Fails with BadIndex for an
    // unreadable or foreign index, NewerSchema for one written by a newer build.
    static Result<std::unique_ptr<Store>> open(const std::filesystem::path& dir,
                                               const Options& options);

    // From now on every LMDB write transaction (begin and commit), fsync/fdatasync and body-file
    // unlink asserts it is not running on thread `id`: the proxy names its event-loop thread.
    // Thread-safe; a default-constructed id lifts the ban.
    void forbid_blocking_on(std::thread::id id) noexcept { guard_.forbid(id); }

    const Options& options() const { return options_; }
    const std::filesystem::path& dir() const { return dir_; }

    // The object stored under `key`, or nullopt.
    Result<std::optional<ObjectInfo>> lookup(std::string_view key) const;

    // Creates the object for `head.key`, replacing any previous one: its chunk records go in the
    // same transaction, then its body file is truncated. created = last_access = now.
    // InvalidArgument for a status outside 100..999 or more than 2^32-1 chunks.
    Result<ObjectInfo> begin_object(const ObjectHead& head, int64_t now);

    // Writes complete chunks: pwrite each at index * chunk_size, one fdatasync (Sync mode), then
    // one transaction recording them all. InvalidArgument when an index is out of range or a
    // length is not chunk_length(index); NoSpace when the disk is full; Stale when replaced.
    // Rewriting a present chunk is allowed (the new record wins).
    Result<void> write_chunks(const ObjectInfo& object, std::span<const ChunkWrite> chunks);
    Result<void> write_chunk(const ObjectInfo& object, uint32_t index,
                             std::span<const std::byte> bytes);

    // The two halves of write_chunks, so a fill can keep writing while the previous bytes sync:
    // stage_chunks pwrites (no sync, no record) and returns what commit_chunks records after one
    // fdatasync (Sync mode). Until committed, staged bytes read as absent. Same errors as
    // write_chunks; commit_chunks fails with Stale when the object was replaced in between.
    // A stage_chunks that fails with NoSpace first gives back the disk blocks its batch took
    // (holes punched; recorded chunks untouched), so a full disk keeps room for the commit of
    // the chunks staged before.
    Result<std::vector<StagedChunk>> stage_chunks(const ObjectInfo& object,
                                                  std::span<const ChunkWrite> chunks);
    Result<void> commit_chunks(const ObjectInfo& object, std::span<const StagedChunk> staged);

    // Copies chunk `index` into the front of `buffer` (at least chunk_length(index) bytes) and
    // returns its length, only after its XXH3-64 matched the record. Missing when it has no
    // record or its bytes are gone or short; ChecksumMismatch when they changed. In both of the
    // latter cases the record is dropped (and the object becomes Partial), so the caller fetches
    // those bytes again.
    Result<size_t> read_chunk(const ObjectInfo& object, uint32_t index,
                              std::span<std::byte> buffer);

    // Reads a staged (written, not yet committed) chunk and checks it against the hash computed
    // when it was written. Nothing is dropped on a mismatch: there is no record yet.
    Result<size_t> read_staged_chunk(const ObjectInfo& object, const StagedChunk& staged,
                                     std::span<std::byte> buffer) const;

    // Which chunks have records now.
    Result<ChunkMap> present_chunks(const ObjectInfo& object) const;

    // Marks the object Complete; Incomplete unless every chunk is present. Returns the record.
    Result<ObjectInfo> mark_complete(const ObjectInfo& object);

    // After a 304 (RFC 9111 §4.3.4): replaces the stored headers (the caller merges them) and the
    // request/response times used for age. Returns the updated record.
    Result<ObjectInfo> update_headers(const ObjectInfo& object, const policy::HeaderList& headers,
                                      int64_t request_time, int64_t response_time);

    // Records what is known of the object's content (sha256 computed over its stored bytes, the
    // digest the origin announced, the verdict). Returns the updated record; Stale when replaced.
    Result<ObjectInfo> set_content(const ObjectInfo& object, ContentCheck check,
                                   const std::string& sha256, const std::string& announced);

    // What a redirect announced, under the redirecting request's cache key (meta database).
    // put_resolve writes (a worker's call); lookup_resolve only reads.
    Result<void> put_resolve(std::string_view key, const ResolveFacts& facts);
    Result<std::optional<ResolveFacts>> lookup_resolve(std::string_view key) const;

    // Sparse objects (store_extents.cpp; docs/cache-format.md "Extent records"): byte ranges
    // at any offsets of an object whose complete length is known (Xet xorbs), kept as extents
    // verified in pieces of the object's chunk_size. Such an object stays Partial; its
    // bytes_present is the sum of its extents, so eviction and the byte budget count it.
    //
    // put_extents stores `writes` into the object for `head.key`, creating it from `head`
    // when absent or of another complete length. Only what no extent covers yet is written:
    // extents never overlap. Bytes are written (and synced, Sync mode) before the records that
    // vouch for them commit; a part that another writer recorded meanwhile is left to that one.
    // Returns the bytes newly recorded. InvalidArgument for a write past the complete length.
    Result<uint64_t> put_extents(const ObjectHead& head, std::span<const ExtentWrite> writes,
                                 int64_t now);
    // Appends the bytes of `ranges` (in order; each within the complete length) to `out`, each
    // piece hashed and compared before any of its bytes is copied. Missing (nothing appended)
    // unless extents cover every range; ChecksumMismatch or Missing when stored bytes changed
    // or vanished: that extent's record is dropped, so the bytes are fetched again, and `out`
    // must be discarded.
    Result<void> read_extents(const ObjectInfo& object, std::span<const policy::ByteRange> ranges,
                              std::vector<std::byte>& out);
    // The object's extents, [start, end), in offset order.
    Result<std::vector<policy::ByteRange>> present_extents(const ObjectInfo& object) const;

    // A hit: hit_count + 1, last_access = now.
    Result<void> touch(const ObjectInfo& object, int64_t now);

    // Deletes the records, then the body file.
    Result<void> remove(const ObjectInfo& object);

    // Every object, in id order (for dlproxyctl).
    Result<std::vector<ObjectInfo>> list() const;
    Result<Stats> stats() const;

    // Removes least-recently-used objects (by last_access) until bytes_present <= budget,
    // never one whose id is in `in_use`, nor one touched or replaced while this call ran, nor an
    // incomplete one created at or after `fill_since` (Unix seconds): the caller's `in_use` is
    // taken before this call runs, so objects whose fill began since are not in it.
    Result<EvictionReport> evict_to_budget(uint64_t budget, std::span<const ObjectId> in_use,
                                           int64_t fill_since = INT64_MAX);

    // Deletes body files that no object record names: leftovers of a crash between a record
    // delete and its unlink. Run it at start-up, before serving: a file created concurrently by
    // begin_object could otherwise be taken for an orphan. Returns how many were removed.
    Result<uint64_t> remove_orphan_files();

  private:
    Store(std::filesystem::path dir, Index index, const Options& options);

    // The object's current record, or Stale when it is gone or of another generation.
    Result<ObjectInfo> current(const Txn& txn, const ObjectInfo& object) const;
    // Drops chunk `index` if its record is still `expected`, adjusting the object and counters.
    void drop_chunk(const ObjectInfo& object, uint32_t index, const detail::ChunkRecord& expected);
    Result<void> require_writable() const;
    // Drops extent `start` if its record is still `expected` (store_extents.cpp).
    void drop_extent(const ObjectInfo& object, uint64_t start,
                     const detail::ExtentRecord& expected);
    // After a NoSpace write: punches holes where the batch's chunks have no record.
    void discard_unrecorded(const ObjectInfo& object, std::span<const ChunkWrite> chunks);

    std::filesystem::path dir_;
    // Before index_ and files_, which hold its address. Its atomic also makes Store immovable, so
    // the address stays valid.
    BlockingGuard guard_;
    Index index_;
    BodyFiles files_;
    Options options_;
};

}  // namespace cache
