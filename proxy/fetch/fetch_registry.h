// FetchRegistry: the Fetch for each cache key currently in use (collapsed forwarding: every
// client of one key attaches to the same Fetch), and the services fetches share.
//
// Thread: the loop thread. Lifetime: owned by the Server; outlives every Fetch.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "cache/store.h"
#include "policy/retry.h"
#include "policy/stale_on_error.h"
#include "policy/stall_watch.h"
#include "proxy/config/config.h"
#include "proxy/fetch/fill_status.h"
#include "proxy/fetch/variant_index.h"
#include "proxy/identity/redirect_memory.h"
#include "proxy/loop/curl_multi.h"
#include "proxy/loop/memory_budget.h"

namespace proxy {

class Fetch;
struct UpstreamRequest;

// The retry knobs of a Config in the policy's units (fills and pass-through resume share them).
policy::RetryConfig retry_config_from(const Config& config);
// The stall knobs (stall_floor, stall_timeout) in the policy's units: fills, range fills and
// pass-through resume share them.
policy::StallConfig stall_config_from(const Config& config);

class FetchRegistry final : public StatusProvider {
  public:
    FetchRegistry(uv_loop_t* loop, CurlMulti& curl, cache::Store& store, const Config& config);
    ~FetchRegistry();
    // The Config it refers to was changed (SIGHUP): refresh what is derived from it.
    void on_config_changed() { retry_ = retry_config_from(config_); }

    // The Fetch for `key`, created (and started) from `request` when none is active. When
    // responses of `key` are known to vary, the fetch is the one of the variant `request`
    // selects (variant_index.h).
    // `created` tells whether this call made it; `stale` is the created fetch's (Fetch's
    // constructor).
    Fetch& acquire(const std::string& key, const UpstreamRequest& request, bool& created,
                   policy::StaleHostSettings stale = {});

    // RFC 9111 §4.4: an unsafe request changed the resource under `key` (and each of its
    // variants). A finished fetch of it
    // is not joined again, and the stored object is removed. A fill still running
    // is left alone: removing its object would cut its clients short.
    void invalidate(const std::string& key);
    // `fetch` stores its object under fetch.key() now, formerly `old_key` (a response that varies
    // on `fields`, RFC 9111 §4.1; none when it does not vary): the registry finds it under the
    // new key, and variants no longer reachable are invalidated (variant_index.h).
    void variant_stored(Fetch& fetch, const std::string& old_key,
                        const std::vector<std::string>& fields);
    // A 304 refreshed `object` (RFC 9111 §4.3.4) and its record is being saved on a worker.
    // Until saved_revalidated(), a fetch that looks the object up reads the refreshed headers
    // and times (with_pending_revalidation), not the stale record: a request right after a
    // revalidation is a hit, as the first request's answer said.
    void revalidating(const cache::ObjectInfo& object) { revalidated_[object.key] = object; }
    void saved_revalidated(const cache::ObjectInfo& object);
    void with_pending_revalidation(cache::ObjectInfo& object) const;
    // A fetch reports it is no longer needed; it is closed and forgotten.
    void release(Fetch& fetch);

    // Fills running without any client, `except` not counted (max_background_fills).
    uint32_t fills_without_clients(const Fetch* except) const;

    // Runs the byte budget after `bytes` of new chunks were committed (on a worker thread,
    // skipping objects that fetches are using).
    void after_commit(uint64_t bytes);
    // An object was marked complete: when the last eviction could not reach the budget because
    // objects were still being filled, this one may be evictable now.
    void after_complete();

    uv_loop_t* loop() { return loop_; }
    CurlMulti& curl() { return curl_; }
    cache::Store& store() { return store_; }
    const Config& config() const { return config_; }
    const policy::RetryConfig& retry() const { return retry_; }
    uint64_t random() { return rng_(); }
    size_t active() const { return fetches_.size(); }
    MemoryBudget& memory() { return memory_; }
    // The redirects passed to clients: content keys, digests, refreshes, offline answers.
    RedirectMemory& redirects() { return redirects_; }
    // How many fills share the memory budget: every object in use (fetch_memory.cpp).
    uint32_t running_fills() const;

    // Removes `object` (cached under `key`) on a worker: it changed on the origin (or an unsafe
    // request invalidated it) and must not be served again. Until the removal is done,
    // invalidating(key) is true and a new fetch of the key starts from scratch instead of finding
    // the old record (the loop never waits for the removal).
    void remove_object(const std::string& key, const cache::ObjectInfo& object);
    bool invalidating(const std::string& key) const { return invalidating_.contains(key); }

    // The objects fetches are using now (not to be evicted from under them).
    std::vector<cache::ObjectId> objects_in_use() const;

    // StatusProvider: every fetch still working on its object (fetch_status.cpp).
    std::vector<FillStatus> inflight_fills() const override;
    MemoryStatus memory() const override;

    // Closes every fetch (shutdown).
    void close_all();

  private:
    // Whether a request for `fetch`'s key may join it (see fetch_registry.cpp).
    static bool reusable(const Fetch& fetch, const UpstreamRequest& request, int64_t now);
    void check_budget();
    // Keys whose removal is running on a worker, with how many removals are.
    std::unordered_map<std::string, uint32_t> invalidating_;
    uv_loop_t* loop_;
    CurlMulti& curl_;
    cache::Store& store_;
    const Config& config_;
    policy::RetryConfig retry_;
    std::mt19937_64 rng_;
    std::unordered_map<std::string, Fetch*> fetches_;
    MemoryBudget memory_;
    RedirectMemory redirects_;
    VariantIndex variants_;
    // Revalidated records being saved, by key (revalidating()).
    std::unordered_map<std::string, cache::ObjectInfo> revalidated_;
    // Fetches replaced under their key while readers still use them (reusable() said no); each
    // leaves through release() like any other.
    std::vector<Fetch*> retiring_;
    bool evicting_ = false;
    bool check_again_ = false;  // commits arrived while an eviction ran
    bool over_budget_ = false;  // the last eviction ended over the budget
    uint64_t commits_since_eviction_ = 0;
    uint64_t bytes_since_eviction_ = 0;
};

}  // namespace proxy
