#include "cache/lmdb_env.h"

namespace cache {

Txn& Txn::operator=(Txn&& other) noexcept {
    if (this != &other) {
        abort();
        txn_ = std::exchange(other.txn_, nullptr);
        guard_ = std::exchange(other.guard_, nullptr);
    }
    return *this;
}

Result<void> Txn::commit() {
    // A read transaction's commit only releases its reader slot; a write's takes the page flush.
    check_blocking(guard_, "LMDB write commit");
    MDB_txn* txn = std::exchange(txn_, nullptr);
    // mdb_txn_commit frees the transaction whether or not it succeeds.
    if (int rc = mdb_txn_commit(txn); rc != 0) return policy::fail(from_mdb(rc));
    return {};
}

void Txn::abort() noexcept {
    if (txn_ != nullptr) mdb_txn_abort(std::exchange(txn_, nullptr));
}

Result<std::optional<Bytes>> Txn::get(MDB_dbi dbi, Bytes key) const {
    MDB_val k = to_val(key);
    MDB_val v{};
    int rc = mdb_get(txn_, dbi, &k, &v);
    if (rc == MDB_NOTFOUND) return std::optional<Bytes>{};
    if (rc != 0) return policy::fail(from_mdb(rc));
    return std::optional<Bytes>{from_val(v)};
}

Result<void> Txn::put(MDB_dbi dbi, Bytes key, Bytes value) {
    MDB_val k = to_val(key);
    MDB_val v = to_val(value);
    if (int rc = mdb_put(txn_, dbi, &k, &v, 0); rc != 0) return policy::fail(from_mdb(rc));
    return {};
}

Result<bool> Txn::del(MDB_dbi dbi, Bytes key) {
    MDB_val k = to_val(key);
    int rc = mdb_del(txn_, dbi, &k, nullptr);
    if (rc == MDB_NOTFOUND) return false;
    if (rc != 0) return policy::fail(from_mdb(rc));
    return true;
}

Result<Cursor> Cursor::open(const Txn& txn, MDB_dbi dbi) {
    MDB_cursor* cursor = nullptr;
    if (int rc = mdb_cursor_open(txn.handle(), dbi, &cursor); rc != 0) {
        return policy::fail(from_mdb(rc));
    }
    return Cursor(cursor);
}

Cursor::~Cursor() {
    if (cursor_ != nullptr) mdb_cursor_close(cursor_);
}

Result<std::optional<Cursor::Entry>> Cursor::step(MDB_val* key, MDB_cursor_op op) {
    MDB_val v{};
    int rc = mdb_cursor_get(cursor_, key, &v, op);
    if (rc == MDB_NOTFOUND) return std::optional<Entry>{};
    if (rc != 0) return policy::fail(from_mdb(rc));
    return std::optional<Entry>{Entry{from_val(*key), from_val(v)}};
}

Result<std::optional<Cursor::Entry>> Cursor::seek(Bytes key) {
    MDB_val k = to_val(key);
    return step(&k, MDB_SET_RANGE);
}

Result<std::optional<Cursor::Entry>> Cursor::first() {
    MDB_val k{};
    return step(&k, MDB_FIRST);
}

Result<std::optional<Cursor::Entry>> Cursor::next() {
    MDB_val k{};
    return step(&k, MDB_NEXT);
}

Result<void> Cursor::del() {
    if (int rc = mdb_cursor_del(cursor_, 0); rc != 0) return policy::fail(from_mdb(rc));
    return {};
}

Result<Env> Env::open(const std::filesystem::path& dir, const EnvOptions& options) {
    MDB_env* raw = nullptr;
    if (int rc = mdb_env_create(&raw); rc != 0) return policy::fail(from_mdb(rc));
    Env env(raw);
    int rc = mdb_env_set_mapsize(raw, options.map_size);
    if (rc == 0) rc = mdb_env_set_maxdbs(raw, options.max_dbs);
    if (rc == 0) rc = mdb_env_set_maxreaders(raw, options.max_readers);
    if (rc != 0) return policy::fail(from_mdb(rc));
    // MDB_NOTLS: read transactions are not tied to a thread (the proxy runs calls on workers).
    // No MDB_NOLOCK: the CLI opens the same index while dlproxy runs.
    unsigned flags = MDB_NOTLS;
    if (options.read_only) flags |= MDB_RDONLY;
    // MDB_NOMETASYNC: a commit flushes its data pages but not the meta page, which the next
    // commit's flush carries. An OS crash can lose the last commit, never the index's integrity;
    // for this cache a lost commit is chunks written but unrecorded, which read as absent and
    // are fetched again. It saves one of the three device flushes a chunk commit costs.
    if (options.no_sync)
        flags |= MDB_NOSYNC;
    else
        flags |= MDB_NOMETASYNC;
    if (rc = mdb_env_open(raw, dir.c_str(), flags, 0644); rc != 0) {
        return policy::fail(from_mdb(rc));
    }
    return env;
}

Env::~Env() {
    if (env_ != nullptr) mdb_env_close(env_);
}

Result<Txn> Env::begin_read() const {
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
    if (rc == MDB_READERS_FULL) {
        int dead = 0;
        mdb_reader_check(env_, &dead);
        rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
    }
    if (rc != 0) return policy::fail(from_mdb(rc));
    return Txn(txn, nullptr);
}

Result<Txn> Env::begin_write() {
    // Waits for LMDB's writer lock, which another thread's (or dlproxyctl's) commit may hold.
    check_blocking(guard_, "LMDB write transaction");
    MDB_txn* txn = nullptr;
    if (int rc = mdb_txn_begin(env_, nullptr, 0, &txn); rc != 0) {
        return policy::fail(from_mdb(rc));
    }
    return Txn(txn, guard_);
}

}  // namespace cache
