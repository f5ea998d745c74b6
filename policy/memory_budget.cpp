#include "policy/memory_budget.h"

#include <algorithm>
#include <cstdint>

namespace policy {

bool memory_pressure(const MemoryPressureInput& in) {
    if (in.budget == 0) return false;
    // Starts at 90 % of the budget, ends below 70 %.
    const uint64_t start = in.budget - in.budget / 10;
    const uint64_t end = in.budget / 10 * 7;
    return in.in_use >= (in.was_under_pressure ? end : start);
}

FillMemory fill_memory(const FillMemoryInput& in) {
    FillMemory out;
    if (in.budget == 0) {
        out.share = UINT64_MAX;
        out.window = in.window;
        out.max_unwritten = in.max_unwritten;
        out.keep_recent = true;
        return out;
    }
    out.share = in.budget / std::max<uint32_t>(1, in.fills);
    const uint64_t chunk = std::max<uint64_t>(in.chunk_size, 1);
    // One chunk is always being filled; the rest of the share is split between sealed chunks
    // waiting for the disk (whole chunks: the fill seals a chunk before it checks again) and the
    // chunks kept for clients. At least one chunk may wait for the disk, so a fill with a tiny
    // share still moves, at the disk's pace.
    const uint64_t available = out.share > chunk ? out.share - chunk : 0;
    out.max_unwritten = std::min(in.max_unwritten, std::max(chunk, available / 2 / chunk * chunk));
    const uint64_t left = available > out.max_unwritten ? available - out.max_unwritten : 0;
    if (in.pressure) {
        out.window = 0;
        out.keep_recent = false;
        return out;
    }
    // The window ahead of the furthest client and the last chunks written are mostly the same
    // chunks (a client following closely reads just behind the fill), so both fit in `left`.
    out.window = std::min(in.window, left);
    out.keep_recent = left >= in.recent_bytes;
    return out;
}

}  // namespace policy
