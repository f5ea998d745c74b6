#include "proxy/fetch/fetch_registry.h"

#include <spdlog/spdlog.h>

#include "policy/freshness.h"
#include "policy/vary.h"
#include "proxy/fetch/fetch.h"
#include "proxy/loop/clock.h"
#include "proxy/loop/worker.h"

namespace proxy {

namespace {
// The same rules Server keys client requests with (invalid texts were refused at start-up).
std::vector<policy::KeyRule> parse_key_rules(const std::vector<std::string>& texts) {
    std::vector<policy::KeyRule> rules;
    for (const auto& text : texts)
        if (auto rule = policy::parse_key_rule(text)) rules.push_back(std::move(*rule));
    return rules;
}
}  // namespace

FetchRegistry::FetchRegistry(uv_loop_t* loop, CurlMulti& curl, cache::Store& store,
                             const Config& config)
    : loop_(loop),
      curl_(curl),
      store_(store),
      config_(config),
      retry_(retry_config_from(config)),
      rng_(std::random_device{}()),
      memory_(config.memory_budget),
      redirects_(loop, store, parse_key_rules(config.key_rule)) {}

policy::RetryConfig retry_config_from(const Config& config) {
    policy::RetryConfig retry;
    retry.base_delay_ms = static_cast<uint64_t>(config.retry_base_delay * 1000);
    retry.max_delay_ms = static_cast<uint64_t>(config.retry_max_delay * 1000);
    retry.max_attempts = config.retry_max_attempts;
    retry.deadline_ms = static_cast<uint64_t>(config.retry_deadline * 1000);
    retry.gap_budget_ms = static_cast<uint64_t>(config.gap_budget * 1000);
    return retry;
}

policy::StallConfig stall_config_from(const Config& config) {
    policy::StallConfig stall;
    stall.floor_ms = static_cast<uint64_t>(config.stall_floor * 1000);
    stall.ceiling_ms = static_cast<uint64_t>(config.stall_timeout * 1000);
    return stall;
}

FetchRegistry::~FetchRegistry() = default;

std::vector<cache::ObjectId> FetchRegistry::objects_in_use() const {
    std::vector<cache::ObjectId> in_use;
    in_use.reserve(fetches_.size());
    for (const auto& [key, fetch] : fetches_)
        in_use.push_back(fetch->object().id);
    for (const Fetch* fetch : retiring_)
        in_use.push_back(fetch->object().id);
    return in_use;
}

Fetch& FetchRegistry::acquire(const std::string& primary, const UpstreamRequest& request,
                              bool& created, policy::StaleHostSettings stale) {
    const auto now = wall_seconds();
    const std::string key = variants_.key_for(primary, request.headers);
    auto it = fetches_.find(key);
    if (it != fetches_.end() && it->second->state() != Fetch::State::Failed &&
        it->second->state() != Fetch::State::Handed) {
        if (reusable(*it->second, request, now)) {
            created = false;
            return *it->second;
        }
        // Its readers keep it until they finish; the new fetch revalidates or replaces the
        // object (the store keeps the two objects' bytes apart).
        retiring_.push_back(it->second);
        fetches_.erase(it);
        it = fetches_.end();
    }
    if (it != fetches_.end()) {  // a finished, failed fetch lingers: replace it
        it->second->close();
        fetches_.erase(it);
    }
    auto* fetch = new Fetch(*this, key, request, stale);
    fetches_[key] = fetch;
    created = true;
    fetch->start(now);
    return *fetch;
}

// A fill still running is joined whatever its freshness: that is one response shared by the
// requests that arrived while it came (collapsed forwarding), and the reason dlproxy exists.
// A fill that is over is a stored response like any other: reused only when this request may be
// served from it (RFC 9111 §4.2, §5.2.2.4 no-cache, §5.2.1 request directives).
bool FetchRegistry::reusable(const Fetch& fetch, const UpstreamRequest& request, int64_t now) {
    if (fetch.state() != Fetch::State::Ready) return true;
    const cache::ObjectInfo& object = fetch.object();
    // A quarantined object is never a hit (docs/model-hosts.md "Verification").
    if (object.content_check == cache::ContentCheck::Mismatch) return false;
    auto freshness = policy::evaluate_freshness(object.headers, request.headers,
                                                {object.request_time, object.response_time}, now);
    return freshness.state == policy::Freshness::Fresh || !fetch.fill_done();
}

void FetchRegistry::invalidate(const std::string& key) {
    for (const std::string& variant : variants_.forget(key))
        invalidate(variant);
    if (auto it = fetches_.find(key); it != fetches_.end()) {
        Fetch& fetch = *it->second;
        if (fetch.state() == Fetch::State::Ready && !fetch.fill_done()) {
            spdlog::debug("invalidation of {} skipped: its fill is running", key);
            return;
        }
        fetches_.erase(it);
        if (fetch.idle())
            fetch.close();
        else
            retiring_.push_back(&fetch);
    }
    // The next request for the key may be parsed right after this response and must not find
    // the object: remove_object hides it from new fetches at once and removes it on a worker.
    auto found = store_.lookup(key);
    if (found && *found) remove_object(key, **found);
}

void FetchRegistry::variant_stored(Fetch& fetch, const std::string& old_key,
                                   const std::vector<std::string>& fields) {
    const std::string& key = fetch.key();
    if (old_key != key) {
        auto it = fetches_.find(old_key);
        if (it != fetches_.end() && it->second == &fetch) {
            fetches_.erase(it);
            // Another fetch of this variant (joined by requests that selected it) keeps its
            // readers and leaves through release(); new requests join this one.
            if (auto other = fetches_.find(key); other != fetches_.end()) {
                if (other->second->idle())
                    other->second->close();
                else
                    retiring_.push_back(other->second);
                fetches_.erase(other);
            }
            fetches_[key] = &fetch;
        }
    }
    const std::string primary(policy::primary_key(key));
    for (const std::string& dropped : variants_.stored(primary, fields, key)) {
        if (dropped != primary) {
            invalidate(dropped);
            continue;
        }
        // The object stored before the resource varied (invalidate() would forget the variants
        // just recorded). A fetch still using it keeps it.
        if (fetches_.contains(primary)) continue;
        auto found = store_.lookup(primary);
        if (found && *found) remove_object(primary, **found);
    }
}

void FetchRegistry::saved_revalidated(const cache::ObjectInfo& object) {
    auto it = revalidated_.find(object.key);
    if (it != revalidated_.end() && it->second.id == object.id &&
        it->second.generation == object.generation &&
        it->second.response_time == object.response_time)
        revalidated_.erase(it);
}

void FetchRegistry::with_pending_revalidation(cache::ObjectInfo& object) const {
    auto it = revalidated_.find(object.key);
    if (it == revalidated_.end() || it->second.id != object.id ||
        it->second.generation != object.generation)
        return;
    object.headers = it->second.headers;
    object.request_time = it->second.request_time;
    object.response_time = it->second.response_time;
}

void FetchRegistry::release(Fetch& fetch) {
    auto it = fetches_.find(fetch.key());
    if (it != fetches_.end() && it->second == &fetch) fetches_.erase(it);
    std::erase(retiring_, &fetch);
    fetch.close();
}

uint32_t FetchRegistry::fills_without_clients(const Fetch* except) const {
    uint32_t n = 0;
    for (const auto& [key, fetch] : fetches_)
        if (fetch != except && fetch->filling_without_clients()) ++n;
    return n;
}

void FetchRegistry::after_commit(uint64_t bytes) {
    if (config_.cache_size == 0) return;
    // Checking the budget costs a stats read; do it every 64 commits (~64 MiB), or sooner once a
    // sixteenth of the budget has been written since, so that a small budget holds under a flood
    // of small objects too (tests/integration/test_limits.py).
    bytes_since_eviction_ += bytes;
    if (++commits_since_eviction_ < 64 && bytes_since_eviction_ < config_.cache_size / 16) return;
    check_budget();
}

void FetchRegistry::after_complete() {
    if (over_budget_) check_budget();
}

void FetchRegistry::check_budget() {
    if (evicting_) {
        // Check again when this run ends: if the last commits of a burst came now, nothing else
        // would, and the cache would stay over its budget until the next download.
        check_again_ = true;
        return;
    }
    commits_since_eviction_ = 0;
    bytes_since_eviction_ = 0;
    auto stats = store_.stats();
    if (!stats || stats->bytes_present <= config_.cache_size) {
        over_budget_ = false;
        return;
    }
    std::vector<cache::ObjectId> in_use = objects_in_use();
    evicting_ = true;
    auto result = std::make_shared<cache::Result<cache::EvictionReport>>(cache::EvictionReport{});
    cache::Store* store = &store_;
    uint64_t budget = config_.cache_size;
    // Fills that start between now and the worker's snapshot are not in `in_use`; a second of
    // margin covers the clock's granularity.
    const int64_t fill_since = wall_seconds() - 1;
    run_on_worker(
        loop_,
        [store, budget, in_use, fill_since, result] {
            *result = store->evict_to_budget(budget, in_use, fill_since);
        },
        [this, result] {
            evicting_ = false;
            over_budget_ = *result && result->value().bytes_present > config_.cache_size;
            if (!*result)
                spdlog::warn("cache eviction failed: {}", cache::to_string(result->error()));
            else if (result->value().objects_removed > 0)
                spdlog::info("cache eviction: removed {} object(s), {} bytes; {} bytes remain",
                             result->value().objects_removed, result->value().bytes_freed,
                             result->value().bytes_present);
            if (check_again_) {
                check_again_ = false;
                check_budget();
            }
        });
}

void FetchRegistry::remove_object(const std::string& key, const cache::ObjectInfo& object) {
    auto result = std::make_shared<cache::Result<void>>();
    cache::Store* store = &store_;
    ++invalidating_[key];
    // The removal carries the object's generation: should a new fetch of the key record a new
    // object first, the removal finds it Stale and leaves it alone.
    bool queued = run_on_worker(
        loop_, [store, object, result] { *result = store->remove(object); },
        [this, key, result] {
            if (auto it = invalidating_.find(key); it != invalidating_.end() && --it->second == 0)
                invalidating_.erase(it);
            if (!*result && result->error().code != cache::Errc::Stale)
                spdlog::warn("fetch {}: could not invalidate the cached copy: {}", key,
                             cache::to_string(result->error()));
        });
    if (!queued) {
        if (--invalidating_[key] == 0) invalidating_.erase(key);
        spdlog::warn("fetch {}: could not queue the invalidation of the cached copy", key);
    }
}

void FetchRegistry::close_all() {
    auto fetches = std::move(fetches_);
    fetches_.clear();
    for (auto& [key, fetch] : fetches)
        fetch->close();
    auto retiring = std::move(retiring_);
    retiring_.clear();
    for (Fetch* fetch : retiring)
        fetch->close();
}

}  // namespace proxy
