#include "cache/index.h"

#include <spdlog/spdlog.h>

#include <string_view>

namespace cache {

namespace {

constexpr std::string_view kSchemaKey = "schema";
constexpr std::string_view kCountersKey = "counters";

Bytes as_bytes(std::string_view s) {
    return std::as_bytes(std::span(s.data(), s.size()));
}
Bytes as_bytes(const ObjectId& id) {
    return Bytes(id.bytes);
}

Result<MDB_dbi> open_dbi(const Txn& txn, const char* name, unsigned flags) {
    MDB_dbi dbi = 0;
    if (int rc = mdb_dbi_open(txn.handle(), name, flags, &dbi); rc != 0) {
        if (rc == MDB_NOTFOUND) return fail(Errc::BadIndex, rc);
        return policy::fail(from_mdb(rc));
    }
    return dbi;
}

// True when the environment holds nothing at all: a brand-new index.
Result<bool> env_is_empty(const Txn& txn) {
    auto main = open_dbi(txn, nullptr, 0);
    if (!main) return policy::fail(main.error());
    MDB_stat stat{};
    if (int rc = mdb_stat(txn.handle(), *main, &stat); rc != 0) return policy::fail(from_mdb(rc));
    return stat.ms_entries == 0;
}

Result<void> initialise(Txn& txn) {
    for (const char* name : {"objects", "chunks", "meta"}) {
        if (auto dbi = open_dbi(txn, name, MDB_CREATE); !dbi) return policy::fail(dbi.error());
    }
    auto meta = open_dbi(txn, "meta", 0);
    if (!meta) return policy::fail(meta.error());
    if (auto put = txn.put(*meta, as_bytes(kSchemaKey), detail::encode_schema(kSchemaVersion));
        !put) {
        return put;
    }
    return txn.put(*meta, as_bytes(kCountersKey), detail::encode_counters({}));
}

Result<void> check_schema(const Txn& txn, MDB_dbi meta, const std::filesystem::path& dir) {
    auto stored = txn.get(meta, as_bytes(kSchemaKey));
    if (!stored) return policy::fail(stored.error());
    Result<uint32_t> version = fail(Errc::BadRecord);
    if (*stored) version = detail::decode_schema(**stored);
    if (!version || *version == 0) {
        spdlog::error("cache: {} has a meta database but no valid schema record", dir.string());
        return fail(Errc::BadIndex);
    }
    if (*version > kSchemaVersion) {
        spdlog::error("cache: {} has schema version {}, this build reads up to {}", dir.string(),
                      *version, kSchemaVersion);
        return fail(Errc::NewerSchema, static_cast<int>(*version));
    }
    return {};
}

}  // namespace

Result<Index> Index::open(const std::filesystem::path& dir, const EnvOptions& options) {
    auto env = Env::open(dir, options);
    if (!env) {
        spdlog::error("cache: cannot open index {}: {}", dir.string(), to_string(env.error()));
        return policy::fail(env.error());
    }
    auto txn = options.read_only ? env->begin_read() : env->begin_write();
    if (!txn) return policy::fail(txn.error());

    auto meta = open_dbi(*txn, "meta", 0);
    if (!meta && meta.error() == Errc::BadIndex) {
        auto empty = env_is_empty(*txn);
        if (!empty) return policy::fail(empty.error());
        if (!*empty || options.read_only) {
            spdlog::error("cache: {} is not a dlproxy index (no meta database)", dir.string());
            return fail(Errc::BadIndex);
        }
        if (auto init = initialise(*txn); !init) return policy::fail(init.error());
        meta = open_dbi(*txn, "meta", 0);
    }
    if (!meta) return policy::fail(meta.error());
    if (auto checked = check_schema(*txn, *meta, dir); !checked)
        return policy::fail(checked.error());

    auto objects = open_dbi(*txn, "objects", 0);
    auto chunks = open_dbi(*txn, "chunks", 0);
    if (!objects || !chunks) {
        spdlog::error("cache: {} lacks the objects or chunks database", dir.string());
        return fail(Errc::BadIndex);
    }
    // Added after schema 1 without a schema change: created on the first writable open, absent
    // (no extents at all) in an older index opened read-only.
    std::optional<MDB_dbi> extents;
    if (auto dbi = open_dbi(*txn, "extents", options.read_only ? 0 : MDB_CREATE)) {
        extents = *dbi;
    } else if (dbi.error() != Errc::BadIndex) {
        return policy::fail(dbi.error());
    }
    // Committing (even a read transaction) keeps the database handles open for the environment.
    if (auto committed = txn->commit(); !committed) return policy::fail(committed.error());
    return Index(std::move(*env), *objects, *chunks, *meta, extents);
}

Result<std::optional<ObjectInfo>> Index::get_object(const Txn& txn, const ObjectId& id) const {
    auto stored = txn.get(objects_, as_bytes(id));
    if (!stored) return policy::fail(stored.error());
    if (!*stored) return std::optional<ObjectInfo>{};
    auto object = detail::decode_object(**stored);
    if (!object) return policy::fail(object.error());
    object->id = id;
    return std::optional<ObjectInfo>{std::move(*object)};
}

Result<void> Index::put_object(Txn& txn, const ObjectInfo& object) {
    return txn.put(objects_, as_bytes(object.id), detail::encode_object(object));
}

Result<void> Index::delete_object(Txn& txn, const ObjectId& id) {
    if (auto deleted = txn.del(objects_, as_bytes(id)); !deleted) {
        return policy::fail(deleted.error());
    }
    auto cursor = Cursor::open(txn, chunks_);
    if (!cursor) return policy::fail(cursor.error());
    auto entry = cursor->seek(detail::chunk_key(id, 0));
    while (entry && *entry) {
        auto key = detail::decode_chunk_key((*entry)->key);
        if (!key || key->first != id) break;
        if (auto deleted = cursor->del(); !deleted) return deleted;
        // Seek again rather than rely on where mdb_cursor_del leaves the cursor.
        entry = cursor->seek(detail::chunk_key(id, 0));
    }
    if (!entry) return policy::fail(entry.error());
    return delete_extents(txn, id);
}

Result<std::optional<detail::ChunkRecord>> Index::get_chunk(const Txn& txn, const ObjectId& id,
                                                            uint32_t index) const {
    auto stored = txn.get(chunks_, detail::chunk_key(id, index));
    if (!stored) return policy::fail(stored.error());
    if (!*stored) return std::optional<detail::ChunkRecord>{};
    auto chunk = detail::decode_chunk(**stored);
    if (!chunk) return policy::fail(chunk.error());
    return std::optional<detail::ChunkRecord>{*chunk};
}

Result<void> Index::put_chunk(Txn& txn, const ObjectId& id, uint32_t index,
                              const detail::ChunkRecord& chunk) {
    return txn.put(chunks_, detail::chunk_key(id, index), detail::encode_chunk(chunk));
}

Result<bool> Index::delete_chunk(Txn& txn, const ObjectId& id, uint32_t index) {
    return txn.del(chunks_, detail::chunk_key(id, index));
}

Result<void> Index::for_each_chunk(
    const Txn& txn, const ObjectId& id,
    const std::function<void(uint32_t, const detail::ChunkRecord&)>& visit) const {
    auto cursor = Cursor::open(txn, chunks_);
    if (!cursor) return policy::fail(cursor.error());
    for (auto entry = cursor->seek(detail::chunk_key(id, 0));; entry = cursor->next()) {
        if (!entry) return policy::fail(entry.error());
        if (!*entry) return {};
        auto key = detail::decode_chunk_key((*entry)->key);
        if (!key) return policy::fail(key.error());
        if (key->first != id) return {};
        auto chunk = detail::decode_chunk((*entry)->value);
        if (!chunk) return policy::fail(chunk.error());
        visit(key->second, *chunk);
    }
}

Result<void> Index::for_each_object(const Txn& txn,
                                    const std::function<void(ObjectInfo&&)>& visit) const {
    auto cursor = Cursor::open(txn, objects_);
    if (!cursor) return policy::fail(cursor.error());
    for (auto entry = cursor->first();; entry = cursor->next()) {
        if (!entry) return policy::fail(entry.error());
        if (!*entry) return {};
        auto id = detail::decode_object_key((*entry)->key);
        Result<ObjectInfo> object = fail(Errc::BadRecord);
        if (id) object = detail::decode_object((*entry)->value);
        if (!object) {
            spdlog::warn(
                "cache: skipping an undecodable object record ({} key bytes, {} value "
                "bytes)",
                (*entry)->key.size(), (*entry)->value.size());
            continue;
        }
        object->id = *id;
        visit(std::move(*object));
    }
}

Result<detail::Counters> Index::counters(const Txn& txn) const {
    auto stored = txn.get(meta_, as_bytes(kCountersKey));
    if (!stored) return policy::fail(stored.error());
    if (!*stored) return fail(Errc::BadIndex);
    auto counters = detail::decode_counters(**stored);
    if (!counters) return fail(Errc::BadIndex);
    return *counters;
}

Result<void> Index::put_counters(Txn& txn, const detail::Counters& counters) {
    return txn.put(meta_, as_bytes(kCountersKey), detail::encode_counters(counters));
}

namespace {
std::string resolve_key(std::string_view key) {
    return "resolve:" + std::string(key);
}
}  // namespace

Result<std::optional<ResolveFacts>> Index::get_resolve(const Txn& txn, std::string_view key) const {
    const std::string k = resolve_key(key);
    auto stored = txn.get(meta_, as_bytes(k));
    if (!stored) return policy::fail(stored.error());
    if (!*stored) return std::optional<ResolveFacts>{};
    auto facts = detail::decode_resolve(**stored);
    if (!facts) return std::optional<ResolveFacts>{};
    return std::optional<ResolveFacts>{std::move(*facts)};
}

Result<void> Index::put_resolve(Txn& txn, std::string_view key, const ResolveFacts& facts) {
    const std::string k = resolve_key(key);
    return txn.put(meta_, as_bytes(k), detail::encode_resolve(facts));
}

Result<void> Index::put_schema_version(Txn& txn, uint32_t version) {
    return txn.put(meta_, as_bytes(kSchemaKey), detail::encode_schema(version));
}

}  // namespace cache
