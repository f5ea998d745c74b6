// Store: opening, object records and statistics. Chunk I/O is in store_chunks.cpp, eviction and
// orphan cleanup in store_eviction.cpp.
#include "cache/store.h"

#include <spdlog/spdlog.h>

#include <limits>
#include <system_error>

namespace cache {

Store::Store(std::filesystem::path dir, Index index, const Options& options)
    : dir_(std::move(dir)),
      index_(std::move(index)),
      files_(dir_ / "data", options.durability == Durability::Sync, &guard_),
      options_(options) {
    index_.set_guard(&guard_);
}

Result<std::unique_ptr<Store>> Store::open(const std::filesystem::path& dir,
                                           const Options& options) {
    if (options.chunk_size == 0) return fail(Errc::InvalidArgument);
    if (!options.read_only) {
        std::error_code ec;
        for (const auto& sub : {dir / "index", dir / "data"}) {
            std::filesystem::create_directories(sub, ec);
            if (ec) {
                spdlog::error("cache: cannot create {}: {}", sub.string(), ec.message());
                return fail(Errc::Io, ec.value());
            }
        }
    }
    EnvOptions env;
    env.map_size = options.map_size;
    env.max_dbs = 4;
    env.max_readers = 512;
    env.read_only = options.read_only;
    env.no_sync = options.durability == Durability::NoSync;
    auto index = Index::open(dir / "index", env);
    if (!index) return policy::fail(index.error());
    return std::unique_ptr<Store>(new Store(dir, std::move(*index), options));
}

Result<void> Store::require_writable() const {
    if (options_.read_only) return fail(Errc::ReadOnly);
    return {};
}

Result<ObjectInfo> Store::current(const Txn& txn, const ObjectInfo& object) const {
    auto stored = index_.get_object(txn, object.id);
    if (!stored) return policy::fail(stored.error());
    if (!*stored || (*stored)->generation != object.generation) return fail(Errc::Stale);
    return std::move(**stored);
}

Result<std::optional<ObjectInfo>> Store::lookup(std::string_view key) const {
    auto txn = index_.begin_read();
    if (!txn) return policy::fail(txn.error());
    auto stored = index_.get_object(*txn, ObjectId::for_key(key));
    // A different key under the same 128-bit id would be a hash collision: treat it as a miss,
    // and begin_object() will replace it.
    if (stored && *stored && (*stored)->key != key) return std::optional<ObjectInfo>{};
    return stored;
}

Result<ObjectInfo> Store::begin_object(const ObjectHead& head, int64_t now) {
    if (auto writable = require_writable(); !writable) return policy::fail(writable.error());
    ObjectInfo object;
    object.id = ObjectId::for_key(head.key);
    object.key = head.key;
    object.status = head.status;
    object.headers = head.headers;
    object.validator = head.validator;
    object.complete_length = head.complete_length;
    object.chunk_size = options_.chunk_size;
    object.request_time = head.request_time;
    object.response_time = head.response_time;
    object.created = now;
    object.last_access = now;
    if (object.status < 100 || object.status > 999 ||
        object.chunk_count() > std::numeric_limits<uint32_t>::max()) {
        return fail(Errc::InvalidArgument);
    }

    auto txn = index_.begin_write();
    if (!txn) return policy::fail(txn.error());
    auto counters = index_.counters(*txn);
    if (!counters) return policy::fail(counters.error());
    auto old = index_.get_object(*txn, object.id);
    if (old && *old) {
        counters->forget_object(**old);
    } else if (!old && old.error() == Errc::BadRecord) {
        spdlog::warn("cache: replacing an undecodable record for {}; totals may be off by it",
                     head.key);
    } else if (!old) {
        return policy::fail(old.error());
    }
    // Removes the old chunk records too (also those of an undecodable old record).
    if (auto deleted = index_.delete_object(*txn, object.id); !deleted) {
        return policy::fail(deleted.error());
    }
    object.generation = ++counters->last_generation;
    counters->objects += 1;
    if (auto put = index_.put_object(*txn, object); !put) return policy::fail(put.error());
    if (auto put = index_.put_counters(*txn, *counters); !put) return policy::fail(put.error());
    if (auto committed = txn->commit(); !committed) return policy::fail(committed.error());

    // Truncating after the commit keeps records from ever naming bytes that are not there; the
    // old bytes left by a crash in between belong to no record and are overwritten later.
    if (auto reset = files_.reset(object.id); !reset) return policy::fail(reset.error());
    return object;
}

Result<ObjectInfo> Store::mark_complete(const ObjectInfo& object) {
    if (auto writable = require_writable(); !writable) return policy::fail(writable.error());
    auto txn = index_.begin_write();
    if (!txn) return policy::fail(txn.error());
    auto stored = current(*txn, object);
    if (!stored || stored->complete()) return stored;
    if (stored->bytes_present != stored->complete_length) return fail(Errc::Incomplete);
    auto counters = index_.counters(*txn);
    if (!counters) return policy::fail(counters.error());
    stored->state = ObjectState::Complete;
    counters->complete_objects += 1;
    if (auto put = index_.put_object(*txn, *stored); !put) return policy::fail(put.error());
    if (auto put = index_.put_counters(*txn, *counters); !put) return policy::fail(put.error());
    if (auto committed = txn->commit(); !committed) return policy::fail(committed.error());
    return stored;
}

Result<ObjectInfo> Store::update_headers(const ObjectInfo& object,
                                         const policy::HeaderList& headers, int64_t request_time,
                                         int64_t response_time) {
    if (auto writable = require_writable(); !writable) return policy::fail(writable.error());
    auto txn = index_.begin_write();
    if (!txn) return policy::fail(txn.error());
    auto stored = current(*txn, object);
    if (!stored) return stored;
    stored->headers = headers;
    stored->request_time = request_time;
    stored->response_time = response_time;
    if (auto put = index_.put_object(*txn, *stored); !put) return policy::fail(put.error());
    if (auto committed = txn->commit(); !committed) return policy::fail(committed.error());
    return stored;
}

Result<ObjectInfo> Store::set_content(const ObjectInfo& object, ContentCheck check,
                                      const std::string& sha256, const std::string& announced) {
    if (auto writable = require_writable(); !writable) return policy::fail(writable.error());
    auto txn = index_.begin_write();
    if (!txn) return policy::fail(txn.error());
    auto stored = current(*txn, object);
    if (!stored) return stored;
    stored->content_check = check;
    stored->sha256 = sha256;
    stored->announced_sha256 = announced;
    if (auto put = index_.put_object(*txn, *stored); !put) return policy::fail(put.error());
    if (auto committed = txn->commit(); !committed) return policy::fail(committed.error());
    return stored;
}

Result<void> Store::put_resolve(std::string_view key, const ResolveFacts& facts) {
    if (auto writable = require_writable(); !writable) return writable;
    auto txn = index_.begin_write();
    if (!txn) return policy::fail(txn.error());
    if (auto put = index_.put_resolve(*txn, key, facts); !put) return put;
    return txn->commit();
}

Result<std::optional<ResolveFacts>> Store::lookup_resolve(std::string_view key) const {
    auto txn = index_.begin_read();
    if (!txn) return policy::fail(txn.error());
    return index_.get_resolve(*txn, key);
}

Result<void> Store::touch(const ObjectInfo& object, int64_t now) {
    if (auto writable = require_writable(); !writable) return writable;
    auto txn = index_.begin_write();
    if (!txn) return policy::fail(txn.error());
    auto stored = current(*txn, object);
    if (!stored) return policy::fail(stored.error());
    stored->hit_count += 1;
    stored->last_access = now;
    if (auto put = index_.put_object(*txn, *stored); !put) return put;
    return txn->commit();
}

Result<void> Store::remove(const ObjectInfo& object) {
    if (auto writable = require_writable(); !writable) return writable;
    auto txn = index_.begin_write();
    if (!txn) return policy::fail(txn.error());
    auto stored = current(*txn, object);
    if (!stored) return policy::fail(stored.error());
    auto counters = index_.counters(*txn);
    if (!counters) return policy::fail(counters.error());
    counters->forget_object(*stored);
    if (auto deleted = index_.delete_object(*txn, object.id); !deleted) return deleted;
    if (auto put = index_.put_counters(*txn, *counters); !put) return put;
    if (auto committed = txn->commit(); !committed) return committed;
    return files_.remove(object.id);
}

Result<std::vector<ObjectInfo>> Store::list() const {
    auto txn = index_.begin_read();
    if (!txn) return policy::fail(txn.error());
    std::vector<ObjectInfo> objects;
    auto walked =
        index_.for_each_object(*txn, [&](ObjectInfo&& o) { objects.push_back(std::move(o)); });
    if (!walked) return policy::fail(walked.error());
    return objects;
}

Result<Stats> Store::stats() const {
    auto txn = index_.begin_read();
    if (!txn) return policy::fail(txn.error());
    auto counters = index_.counters(*txn);
    if (!counters) return policy::fail(counters.error());
    return Stats{counters->objects, counters->complete_objects,
                 counters->objects - counters->complete_objects, counters->bytes_present};
}

}  // namespace cache
