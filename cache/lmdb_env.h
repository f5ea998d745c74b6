// A thin RAII layer over LMDB: an owning `Env`, a move-only `Txn`, and a `Cursor` that borrows
// a transaction.
//
// Shape taken from lmdbxx and Knot DNS's knot_lmdb: the Txn destructor aborts, `commit()` is
// explicit and returns a Result, NOTFOUND is an empty optional rather than an error. Values
// returned by `get()` and cursors point into the LMDB map and are valid only until the
// transaction ends: copy (decode) them before that.
//
// Threading: the environment is opened with MDB_NOTLS, so a read transaction may be created on
// one thread and ended on another and several threads may read at once. LMDB allows one write
// transaction at a time per environment, across threads and processes; `begin_write()` blocks
// until it is free. Never keep a Txn across calls into the store. With a guard set (set_guard),
// beginning and committing a write transaction assert they are not on the guarded thread
// (blocking_guard.h).
#pragma once

#include <lmdb.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <utility>

#include "cache/blocking_guard.h"
#include "cache/errors.h"

namespace cache {

using Bytes = std::span<const std::byte>;

class Txn {
  public:
    Txn(Txn&& other) noexcept
        : txn_(std::exchange(other.txn_, nullptr)), guard_(std::exchange(other.guard_, nullptr)) {}
    Txn& operator=(Txn&& other) noexcept;
    Txn(const Txn&) = delete;
    Txn& operator=(const Txn&) = delete;
    ~Txn() { abort(); }

    // Commits and ends the transaction; the Txn is empty afterwards whatever the outcome.
    Result<void> commit();
    void abort() noexcept;

    // The value stored under `key`, or nullopt. The span borrows from the map (see above).
    Result<std::optional<Bytes>> get(MDB_dbi dbi, Bytes key) const;
    Result<void> put(MDB_dbi dbi, Bytes key, Bytes value);
    // Deletes `key`; true when it existed.
    Result<bool> del(MDB_dbi dbi, Bytes key);

    MDB_txn* handle() const { return txn_; }

  private:
    friend class Env;
    Txn(MDB_txn* txn, const BlockingGuard* guard) : txn_(txn), guard_(guard) {}
    MDB_txn* txn_ = nullptr;
    const BlockingGuard* guard_ = nullptr;  // write transactions only: commit() checks it
};

// Walks keys in order from a starting key. Borrows `txn`, which must outlive the cursor.
class Cursor {
  public:
    struct Entry {
        Bytes key;
        Bytes value;
    };

    static Result<Cursor> open(const Txn& txn, MDB_dbi dbi);
    Cursor(Cursor&& other) noexcept : cursor_(std::exchange(other.cursor_, nullptr)) {}
    Cursor& operator=(Cursor&&) = delete;
    Cursor(const Cursor&) = delete;
    ~Cursor();

    // The first entry with key >= `key` (MDB_SET_RANGE), or nullopt past the end.
    Result<std::optional<Entry>> seek(Bytes key);
    Result<std::optional<Entry>> first();
    Result<std::optional<Entry>> next();
    // Deletes the entry under the cursor (write transactions only).
    Result<void> del();

  private:
    explicit Cursor(MDB_cursor* cursor) : cursor_(cursor) {}
    Result<std::optional<Entry>> step(MDB_val* key, MDB_cursor_op op);
    MDB_cursor* cursor_ = nullptr;
};

struct EnvOptions {
    uint64_t map_size = 0;  // bytes of address space reserved for the map (sparse on disk)
    unsigned max_dbs = 0;
    unsigned max_readers = 0;
    bool read_only = false;
    bool no_sync = false;  // MDB_NOSYNC: commits survive a process crash, not an OS crash
};

class Env {
  public:
    // Opens (creating when writable) the environment in directory `dir`, which must exist.
    static Result<Env> open(const std::filesystem::path& dir, const EnvOptions& options);
    Env(Env&& other) noexcept
        : env_(std::exchange(other.env_, nullptr)), guard_(std::exchange(other.guard_, nullptr)) {}
    Env& operator=(Env&&) = delete;
    Env(const Env&) = delete;
    ~Env();

    // A read-only transaction; on MDB_READERS_FULL stale reader slots are cleared and the begin
    // retried once (Knot does the same).
    Result<Txn> begin_read() const;
    Result<Txn> begin_write();

    // The guard checked by begin_write() and by the commit of every write transaction; it must
    // outlive the Env. Null (the default) checks nothing.
    void set_guard(const BlockingGuard* guard) { guard_ = guard; }

  private:
    explicit Env(MDB_env* env) : env_(env) {}
    MDB_env* env_ = nullptr;
    const BlockingGuard* guard_ = nullptr;
};

inline MDB_val to_val(Bytes b) {
    return MDB_val{b.size(), const_cast<std::byte*>(b.data())};
}

inline Bytes from_val(const MDB_val& v) {
    return Bytes(static_cast<const std::byte*>(v.mv_data), v.mv_size);
}

}  // namespace cache
