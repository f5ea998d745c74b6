#include "proxy/loop/memory_budget.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "cache/aligned_bytes.h"
#include "policy/byte_size.h"
#include "policy/memory_budget.h"

namespace proxy {

uint64_t MemoryBudget::in_use() const {
    return cache::aligned_bytes_in_use();
}

bool MemoryBudget::pressure() const {
    const uint64_t used = in_use();
    peak_ = std::max(peak_, used);
    const bool now = policy::memory_pressure({limit_, used, pressure_});
    if (now == pressure_) return now;
    pressure_ = now;
    if (now) {
        ++episodes_;
        spdlog::warn(
            "memory: {} of chunk buffers held, budget {}: fills keep nothing ahead of their "
            "clients and slow clients read from the cache until use falls below 70 %",
            policy::format_byte_size(used), policy::format_byte_size(limit_));
    } else {
        spdlog::info("memory: pressure over ({} held, budget {})", policy::format_byte_size(used),
                     policy::format_byte_size(limit_));
    }
    return now;
}

}  // namespace proxy
