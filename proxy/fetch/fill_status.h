// FillStatus and StatusProvider: what the running proxy reports about its fills (GET /status),
// apart from the admin API so the request path can provide it without depending on the API.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace proxy {

// One object being fetched from its origin, as GET /status shows it.
struct FillStatus {
    std::string url;
    uint64_t bytes_done = 0;
    std::optional<uint64_t> total;  // complete length, when known
    double rate_bytes_per_s = 0;
    uint32_t attempts = 0;      // upstream attempts so far, the first included
    std::string state;          // e.g. "transferring", "waiting_retry", "revalidating"
    std::string key;            // the cache key (what dlproxyctl ls matches objects by)
    uint64_t memory_bytes = 0;  // chunk buffers this fill holds (its share of the memory budget)
    uint32_t clients = 0;       // client connections reading this object now
    std::optional<uint64_t> retry_in_ms;  // state "waiting_retry": when the next attempt starts
    // The end-to-end check (docs/model-hosts.md): "verifying", "verified",
    // "unverified" or "mismatch"; and the sha256 the content must have, when announced.
    std::string content;
    std::string announced_sha256;
    // The fallback source the fill continues from (docs/recovery.md "Fallback sources"), or "".
    std::string fallback_source;
};

// The process's chunk buffers against --memory-budget (proxy/loop/memory_budget.h).
struct MemoryStatus {
    uint64_t budget = 0;  // 0: no budget
    uint64_t in_use = 0;
    uint64_t fills = 0;  // held by fills (collecting, waiting for the disk, kept for clients)
    uint64_t reads = 0;  // the rest: chunks read back from disk for clients, sends holding them
    uint64_t peak = 0;
    bool pressure = false;
    uint64_t pressure_episodes = 0;
};

// What the running proxy reports about its fills. The proxy implements it once fills exist.
class StatusProvider {
  public:
    virtual ~StatusProvider() = default;
    virtual std::vector<FillStatus> inflight_fills() const = 0;
    virtual MemoryStatus memory() const { return {}; }
};

// The default: no fills.
class NoFills : public StatusProvider {
  public:
    std::vector<FillStatus> inflight_fills() const override { return {}; }
};

}  // namespace proxy
