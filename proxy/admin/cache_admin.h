// CacheAdmin: the cache operations the admin endpoint and dlproxyctl offer (evict, purge, gc),
// behind an interface so the running proxy can add what only it knows (which objects are in use)
// while dlproxyctl, without a daemon, runs the same code on a store it opened itself.
//
// This header and cache_admin.cpp depend on cache/ and policy/ only (no libuv, no curl): dlproxyctl
// compiles them without linking the proxy core.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cache/store.h"
#include "policy/result.h"

namespace proxy {

enum class AdminErrc {
    NotFound,  // no such object (HTTP 404, dlproxyctl exit 1)
    Invalid,   // the request names nothing usable (HTTP 400, exit 2)
    Failed,    // the store reported an error (HTTP 500, exit 1)
    InUse,     // the object is being filled or read by the running proxy (HTTP 409, exit 1)
};

struct AdminError {
    AdminErrc code = AdminErrc::Failed;
    std::string message;  // one line, for the response body or the terminal
};

template <class T>
using AdminResult = policy::Result<T, AdminError>;

// What an evict or purge removed.
struct RemovalReport {
    uint64_t objects = 0;
    uint64_t bytes = 0;  // body bytes that were present
};

struct GcReport {
    uint64_t objects_removed = 0;  // evicted to bring the cache under its byte budget
    uint64_t bytes_freed = 0;
    uint64_t orphan_files_removed = 0;  // body files no record named
    uint64_t bytes_present = 0;         // after the collection
};

// Which objects `purge` removes. `all` alone, or any of the other two (both: an object must match
// both to go).
struct PurgeFilter {
    bool all = false;
    std::optional<int64_t> older_than_seconds;  // last access more than this long ago
    bool partial = false;                       // only objects not completely cached

    bool empty() const { return !all && !older_than_seconds && !partial; }
};

class CacheAdmin {
  public:
    virtual ~CacheAdmin() = default;

    // `target` is a URL as clients request it (normalised into its cache key), a cache key, or an
    // object id (32 hex digits). NotFound when nothing matches.
    virtual AdminResult<RemovalReport> evict(std::string_view target) = 0;
    // `now`: seconds since the epoch, for older_than_seconds. Invalid for an empty filter.
    virtual AdminResult<RemovalReport> purge(const PurgeFilter& filter, int64_t now) = 0;
    // Evicts least recently used objects down to the byte budget, then deletes orphaned files.
    virtual AdminResult<GcReport> gc() = 0;
    // Index totals, or nullopt when they cannot be read.
    virtual std::optional<cache::Stats> stats() const = 0;

    // evict, purge and gc write to the store (LMDB commits, unlinks): the running proxy makes
    // them on a worker thread, but what it knows of itself (the objects in use) lives on the
    // loop thread. Called on the loop, this returns a CacheAdmin with that knowledge captured
    // now, for calls on any thread.
    virtual std::shared_ptr<CacheAdmin> for_worker() const = 0;
};

// CacheAdmin on a cache::Store, calling it synchronously on the caller's thread. The calls take
// LMDB's writer lock and delete files: the proxy's admin endpoint makes evict, purge and gc on a
// worker (through for_worker()). An object that starts being filled after for_worker() took its
// snapshot of the objects in use can still be removed: its fill sees Errc::Stale on its next
// write and stops caching, while its clients keep streaming.
class StoreCacheAdmin : public CacheAdmin {
  public:
    explicit StoreCacheAdmin(cache::Store& store) : store_(store) {}

    // The running proxy tells which objects its fetches are using: evict refuses them (InUse)
    // and purge skips them, so an admin never pulls an object from under a fill.
    void set_in_use(std::function<std::vector<cache::ObjectId>()> in_use) {
        in_use_ = std::move(in_use);
    }

    AdminResult<RemovalReport> evict(std::string_view target) override;
    AdminResult<RemovalReport> purge(const PurgeFilter& filter, int64_t now) override;
    AdminResult<GcReport> gc() override;
    std::optional<cache::Stats> stats() const override;
    // A copy whose objects in use are the ones set_in_use's function returns now.
    std::shared_ptr<CacheAdmin> for_worker() const override;

  private:
    cache::Store& store_;
    std::function<std::vector<cache::ObjectId>()> in_use_;
    bool in_use(const cache::ObjectId& id) const;
};

// The object `target` names (see CacheAdmin::evict), or nullopt. Object ids are matched by a scan
// of the index.
cache::Result<std::optional<cache::ObjectInfo>> find_object(const cache::Store& store,
                                                            std::string_view target);

// The cache key of a URL as a client would request it ("http://Host:80/a" → "http://host/a"), or
// nullopt when `url` is not an absolute http(s) URL.
std::optional<std::string> cache_key_of(std::string_view url);

// True for 32 hex digits.
bool looks_like_object_id(std::string_view text);

}  // namespace proxy
