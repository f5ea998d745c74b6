// Index: the LMDB environment under `<cache dir>/index/` and its three databases, with typed
// accessors that encode and decode records (record_codec.h) inside a caller's transaction.
//
//   objects   object id (16 bytes)                → object record
//   chunks    object id + chunk index (BE uint32) → chunk record
//   meta      "schema" → uint32 schema version;  "counters" → running totals;
//             "resolve:<cache key>" → what a redirect announced (ResolveFacts)
//   extents   object id + start (BE uint64)   → extent record (extent_record.h): byte ranges of
//             sparse objects (Xet xorbs) at any offset. Created on the first writable open; an
//             index opened read-only before that has none (the accessors then see no extents).
//
// Opening checks that the environment is a dlproxy index of a schema this build understands:
// an empty environment is initialised (when writable), one without our `meta` database is
// foreign (Errc::BadIndex), a newer schema fails with Errc::NewerSchema (native = the version).
//
// Accessors take the transaction from the caller, who owns it for the length of one store call;
// everything returned is a copy, safe after the transaction ends. Threading as in lmdb_env.h.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string_view>

#include "cache/errors.h"
#include "cache/extent_record.h"
#include "cache/lmdb_env.h"
#include "cache/object_info.h"
#include "cache/record_codec.h"

namespace cache {

inline constexpr uint32_t kSchemaVersion = 1;

class Index {
  public:
    // `dir` must exist. Read-only opens never create or initialise anything.
    static Result<Index> open(const std::filesystem::path& dir, const EnvOptions& options);

    Result<Txn> begin_read() const { return env_.begin_read(); }
    Result<Txn> begin_write() { return env_.begin_write(); }
    // See Env::set_guard.
    void set_guard(const BlockingGuard* guard) { env_.set_guard(guard); }

    // nullopt when absent; BadRecord when present but undecodable. The id is filled in.
    Result<std::optional<ObjectInfo>> get_object(const Txn& txn, const ObjectId& id) const;
    Result<void> put_object(Txn& txn, const ObjectInfo& object);
    // Deletes the object record (if any) and every chunk and extent record of `id`.
    Result<void> delete_object(Txn& txn, const ObjectId& id);

    Result<std::optional<detail::ChunkRecord>> get_chunk(const Txn& txn, const ObjectId& id,
                                                         uint32_t index) const;
    Result<void> put_chunk(Txn& txn, const ObjectId& id, uint32_t index,
                           const detail::ChunkRecord& chunk);
    Result<bool> delete_chunk(Txn& txn, const ObjectId& id, uint32_t index);
    // Visits the chunk records of `id` in index order. An undecodable record fails the walk.
    Result<void> for_each_chunk(
        const Txn& txn, const ObjectId& id,
        const std::function<void(uint32_t, const detail::ChunkRecord&)>& visit) const;

    // Extent records (index_extents.cpp). for_each_extent visits `id`'s extents in start order;
    // an undecodable record fails the walk.
    Result<void> put_extent(Txn& txn, const ObjectId& id, uint64_t start,
                            const detail::ExtentRecord& extent);
    Result<bool> delete_extent(Txn& txn, const ObjectId& id, uint64_t start);
    Result<void> for_each_extent(
        const Txn& txn, const ObjectId& id,
        const std::function<void(uint64_t, const detail::ExtentRecord&)>& visit) const;

    // Visits every object record in id order. Undecodable records are logged and skipped, so
    // one bad record cannot stop listing or eviction.
    Result<void> for_each_object(const Txn& txn,
                                 const std::function<void(ObjectInfo&&)>& visit) const;

    Result<detail::Counters> counters(const Txn& txn) const;
    Result<void> put_counters(Txn& txn, const detail::Counters& counters);

    // meta["resolve:" + key]: what a redirect announced (ResolveFacts). nullopt when absent or
    // undecodable (these are hints: a bad one is as good as none).
    Result<std::optional<ResolveFacts>> get_resolve(const Txn& txn, std::string_view key) const;
    Result<void> put_resolve(Txn& txn, std::string_view key, const ResolveFacts& facts);

    // Overwrites meta["schema"]. For tests that simulate an index from another version.
    Result<void> put_schema_version(Txn& txn, uint32_t version);

  private:
    Index(Env env, MDB_dbi objects, MDB_dbi chunks, MDB_dbi meta, std::optional<MDB_dbi> extents)
        : env_(std::move(env)),
          objects_(objects),
          chunks_(chunks),
          meta_(meta),
          extents_(extents) {}
    Result<void> delete_extents(Txn& txn, const ObjectId& id);

    Env env_;
    MDB_dbi objects_;
    MDB_dbi chunks_;
    MDB_dbi meta_;
    std::optional<MDB_dbi> extents_;
};

}  // namespace cache
