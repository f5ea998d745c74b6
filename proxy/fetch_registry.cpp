#include "proxy/fetch_registry.h"

#include <spdlog/spdlog.h>

#include <ctime>

#include "proxy/fetch.h"
#include "proxy/worker.h"

namespace proxy {

FetchRegistry::FetchRegistry(uv_loop_t* loop, CurlMulti& curl, cache::Store& store,
                             const Config& config)
    : loop_(loop), curl_(curl), store_(store), config_(config), rng_(std::random_device{}()) {
    retry_.base_delay_ms = static_cast<uint64_t>(config.retry_base_delay * 1000);
    retry_.max_delay_ms = static_cast<uint64_t>(config.retry_max_delay * 1000);
    retry_.max_attempts = config.retry_max_attempts;
    retry_.deadline_ms = static_cast<uint64_t>(config.retry_deadline * 1000);
    retry_.gap_budget_ms = static_cast<uint64_t>(config.gap_budget * 1000);
}

FetchRegistry::~FetchRegistry() = default;

Fetch& FetchRegistry::acquire(const std::string& key, const UpstreamRequest& request,
                              bool& created) {
    auto it = fetches_.find(key);
    if (it != fetches_.end() && it->second->state() != Fetch::State::Failed &&
        it->second->state() != Fetch::State::Handed) {
        created = false;
        return *it->second;
    }
    if (it != fetches_.end()) {  // a finished, failed fetch lingers: replace it
        it->second->close();
        fetches_.erase(it);
    }
    auto* fetch = new Fetch(*this, key, request);
    fetches_[key] = fetch;
    created = true;
    fetch->start(static_cast<int64_t>(std::time(nullptr)));
    return *fetch;
}

void FetchRegistry::release(Fetch& fetch) {
    auto it = fetches_.find(fetch.key());
    if (it != fetches_.end() && it->second == &fetch) fetches_.erase(it);
    fetch.close();
}

uint32_t FetchRegistry::fills_without_clients(const Fetch* except) const {
    uint32_t n = 0;
    for (const auto& [key, fetch] : fetches_)
        if (fetch != except && fetch->filling_without_clients()) ++n;
    return n;
}

void FetchRegistry::after_commit() {
    if (evicting_ || config_.cache_size == 0) return;
    // Checking the budget costs a stats read; do it every 64 commits (~64 MiB) or so.
    if (++commits_since_eviction_ < 64) return;
    commits_since_eviction_ = 0;
    auto stats = store_.stats();
    if (!stats || stats->bytes_present <= config_.cache_size) return;
    std::vector<cache::ObjectId> in_use;
    for (auto& [key, fetch] : fetches_)
        in_use.push_back(fetch->object().id);
    evicting_ = true;
    auto result = std::make_shared<cache::Result<cache::EvictionReport>>(cache::EvictionReport{});
    cache::Store* store = &store_;
    uint64_t budget = config_.cache_size;
    run_on_worker(
        loop_,
        [store, budget, in_use, result] { *result = store->evict_to_budget(budget, in_use); },
        [this, result] {
            evicting_ = false;
            if (!*result)
                spdlog::warn("cache eviction failed: {}", cache::to_string(result->error()));
            else if (result->value().objects_removed > 0)
                spdlog::info("cache eviction: removed {} object(s), {} bytes; {} bytes remain",
                             result->value().objects_removed, result->value().bytes_freed,
                             result->value().bytes_present);
        });
}

void FetchRegistry::close_all() {
    auto fetches = std::move(fetches_);
    fetches_.clear();
    for (auto& [key, fetch] : fetches)
        fetch->close();
}

}  // namespace proxy
