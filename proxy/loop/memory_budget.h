// MemoryBudget: the body bytes the whole process holds in memory, against one budget
// (--memory-budget; policy/memory_budget.h decides what each fill and reader may hold).
//
// Body bytes in memory are chunk buffers (cache::AlignedBytes): the chunk a fill is collecting,
// sealed chunks waiting for the disk, chunks kept for clients following a fill, chunks read back
// from disk for clients and the sends that still hold them. They are measured where they are
// allocated (cache::aligned_bytes_in_use), so the count is what is really held, whoever holds it,
// and no path can leave the count by forgetting to release. What is not a chunk buffer is bounded
// per connection elsewhere (--high-water-mark for queued sends, a small queue for live copies).
//
// Thread: the loop thread. Lifetime: owned by the FetchRegistry.
#pragma once

#include <cstdint>

namespace proxy {

class MemoryBudget {
  public:
    // `limit` 0: no budget (measured, never under pressure).
    explicit MemoryBudget(uint64_t limit) : limit_(limit) {}

    uint64_t limit() const { return limit_; }
    uint64_t in_use() const;
    uint64_t peak() const { return peak_; }
    // Whether the process is short of memory now (policy::memory_pressure, with hysteresis); logs
    // when an episode starts and when it ends.
    // Const with mutable state: a measurement cached between calls, taken by whoever looks
    // (fills, readers, /status and /metrics), so an episode also ends while nothing fills.
    bool pressure() const;
    uint64_t pressure_episodes() const { return episodes_; }

  private:
    const uint64_t limit_;
    mutable uint64_t peak_ = 0;
    mutable bool pressure_ = false;
    mutable uint64_t episodes_ = 0;
};

}  // namespace proxy
