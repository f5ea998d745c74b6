// BodyFiles: the sparse body file of each object, `<dir>/data/xx/<id-hex>.body`, where xx is the
// first byte of the id in hex (256 directories keep each one small).
//
// Chunk i of an object lives at byte offset i * chunk_size of its file; chunks that were never
// written are holes. Every call opens the file, does its work and closes it again: no descriptor
// outlives a call, so there is nothing to share between threads and an unlinked file is never
// written through a stale descriptor. Calls block on disk I/O (and fdatasync in Sync mode): run
// them off the event loop.
//
// With a guard (blocking_guard.h), every fsync/fdatasync and unlink asserts it is not on the
// guarded thread.
//
// Errors: ENOENT and short reads → Errc::Missing, ENOSPC/EDQUOT → Errc::NoSpace, any other errno
// → Errc::Io, each with the errno kept as Error::native.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>

#include "cache/blocking_guard.h"
#include "cache/errors.h"
#include "cache/object_id.h"

namespace cache {

struct Extent {
    uint64_t offset = 0;
    std::span<const std::byte> bytes;
};

class BodyFiles {
  public:
    // `data_dir` is `<cache dir>/data`; `sync` selects fdatasync after writes (Durability::Sync).
    // `guard`, when not null, must outlive the BodyFiles.
    BodyFiles(std::filesystem::path data_dir, bool sync, const BlockingGuard* guard = nullptr);

    std::filesystem::path path_for(const ObjectId& id) const;

    // Creates the file (and its xx directory) or truncates it to zero length. In Sync mode a newly
    // created entry is made durable by syncing its directory.
    Result<void> reset(const ObjectId& id) const;

    // pwrites every extent (aligned parts with O_DIRECT), then (Sync mode) one fdatasync.
    // Creates the file when missing.
    // With sync = false, no fdatasync: call sync() before relying on the bytes.
    Result<void> write(const ObjectId& id, std::span<const Extent> extents, bool sync = true) const;

    // fdatasync of the object's file (Sync mode; a no-op otherwise). Missing when it is gone.
    Result<void> sync(const ObjectId& id) const;

    // Reads exactly buffer.size() bytes at `offset`.
    Result<void> read(const ObjectId& id, uint64_t offset, std::span<std::byte> buffer) const;

    // Gives the disk blocks of [begin, end) back (a hole is punched, the file keeps its length):
    // for bytes no chunk record vouches for, such as those of a write that failed half-way on a
    // full disk. Errc::Io (native EOPNOTSUPP) on a file system that cannot punch holes.
    Result<void> discard(const ObjectId& id, uint64_t begin, uint64_t end) const;

    // Unlinks the file; a file already gone is success.
    Result<void> remove(const ObjectId& id) const;

    // Calls `visit` with the id of every `<hex>.body` file present; other names are ignored.
    Result<void> for_each_file(const std::function<void(const ObjectId&)>& visit) const;

  private:
    std::filesystem::path data_dir_;
    bool sync_;
    const BlockingGuard* guard_;
    // Cleared for good when the file system refuses O_DIRECT; written from worker threads.
    mutable std::atomic<bool> direct_io_{true};
};

}  // namespace cache
