// Fetch and FetchRegistry: the fill's side of the process-wide memory budget
// (policy/memory_budget.h decides; docs/many-clients.md "Memory budget").
#include "proxy/fetch/fetch.h"
#include "proxy/fetch/fetch_registry.h"

namespace proxy {

namespace {

// Sealed chunks waiting to be written before the upstream transfer pauses, when the budget
// leaves room for it: the disk then sets the pace rather than memory.
constexpr uint64_t kMaxUnwrittenBytes = 12u << 20;

}  // namespace

policy::FillMemory Fetch::memory_limits() const {
    policy::FillMemoryInput in;
    MemoryBudget& memory = registry_.memory();
    in.budget = memory.limit();
    in.fills = registry_.running_fills();
    in.pressure = memory.pressure();
    in.chunk_size =
        object().chunk_size ? object().chunk_size : registry_.store().options().chunk_size;
    in.window = registry_.config().fill_ahead_window;
    in.max_unwritten = kMaxUnwrittenBytes;
    in.recent_bytes = policy::kRecentChunks * in.chunk_size;
    return policy::fill_memory(in);
}

uint64_t Fetch::memory_held() const {
    return cursor_.chunk_capacity() + pipeline_.memory_bytes();
}

uint32_t FetchRegistry::running_fills() const {
    // Every object in use counts, also one whose fill has not received its head yet: counting
    // only transfers already running let the first fills of a burst take the whole budget
    // before the others started (60 cold objects held 405 MiB of a 256 MiB budget that way).
    return static_cast<uint32_t>(std::max<size_t>(fetches_.size(), 1));
}

MemoryStatus FetchRegistry::memory() const {
    MemoryStatus s;
    s.budget = memory_.limit();
    s.pressure = memory_.pressure();
    s.in_use = memory_.in_use();
    for (const auto& [key, fetch] : fetches_)
        s.fills += fetch->memory_held();
    s.fills = std::min(s.fills, s.in_use);
    s.reads = s.in_use - s.fills;
    s.peak = std::max(memory_.peak(), s.in_use);
    s.pressure_episodes = memory_.pressure_episodes();
    return s;
}

}  // namespace proxy
