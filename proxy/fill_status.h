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
    uint32_t attempts = 0;  // upstream attempts so far, the first included
    std::string state;      // e.g. "transferring", "waiting_retry", "revalidating"
    std::string key;        // the cache key (what dlproxyctl ls matches objects by)
};

// What the running proxy reports about its fills. The proxy implements it once fills exist.
class StatusProvider {
  public:
    virtual ~StatusProvider() = default;
    virtual std::vector<FillStatus> inflight_fills() const = 0;
};

// The default: no fills.
class NoFills : public StatusProvider {
  public:
    std::vector<FillStatus> inflight_fills() const override { return {}; }
};

}  // namespace proxy
