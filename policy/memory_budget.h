// Who may hold body bytes in memory, under one process-wide budget (docs/many-clients.md,
// "Memory budget").
//
// Body bytes in memory are chunks: the chunk a fill is collecting, sealed chunks waiting to be
// written, written chunks kept for clients that follow the fill closely (the fill-ahead window
// and the last few chunks), and chunks read back from disk for clients. Without a cap their sum
// grows with the number of downloads (60 slow clients on 60 cold objects held 782 MiB). These
// decisions keep it near `budget`:
// - Each running fill gets an even share of the budget. Its share bounds how much it may keep
//   ahead of its clients, whether it keeps the last chunks it wrote, and how many sealed chunks
//   may wait for the disk (beyond that the transfer pauses: the disk sets the pace). A fill
//   always keeps one chunk filling and one waiting for the disk, whatever the share: it never
//   starves, it only slows to the disk's pace.
// - Under pressure (use past 90 % of the budget, until it falls below 70 %), nothing optional is
//   kept: no window ahead of the clients, no recent chunks after they are written, no read-ahead
//   for clients reading from disk. Slow clients then read from the cache, as DESIGN.md intends.
// - A client reading stored bytes costs no fill memory: its chunk reads are counted as reads and
//   only lose their read-ahead under pressure.
// So the bound is the budget plus, when more fills run than the budget has shares for, two chunks
// per extra fill and one or two chunks per client reading from disk (stated in the docs).
//
// Units: bytes. Pure: the caller passes what it measured.
#pragma once

#include <cstdint>

namespace policy {

// The last chunks a fill wrote, kept in memory for clients following it closely (when the share
// allows, FillMemory::keep_recent).
inline constexpr uint32_t kRecentChunks = 2;

// Pressure with hysteresis, so that one episode logs one start line and one end line rather
// than a line per chunk.
struct MemoryPressureInput {
    uint64_t budget = 0;  // 0: no budget (never under pressure)
    uint64_t in_use = 0;
    bool was_under_pressure = false;
};
bool memory_pressure(const MemoryPressureInput& in);

struct FillMemoryInput {
    uint64_t budget = 0;  // 0: no budget; the configured limits apply as they are
    uint32_t fills = 1;   // fills running now, this one included
    bool pressure = false;
    uint64_t chunk_size = 1u << 20;
    uint64_t window = 16ull << 20;         // the configured fill-ahead window
    uint64_t max_unwritten = 12ull << 20;  // the fill's own limit of sealed chunks not yet written
    uint64_t recent_bytes = kRecentChunks * (1ull << 20);  // the kRecentChunks last written
};

struct FillMemory {
    uint64_t share = 0;          // this fill's share of the budget
    uint64_t window = 0;         // how far it may run ahead of its furthest client, kept in memory
    uint64_t max_unwritten = 0;  // sealed chunks waiting for the disk before the transfer pauses
    bool keep_recent = true;     // keep the last written chunks for readers following closely
};
FillMemory fill_memory(const FillMemoryInput& in);

// Whether a client reading from disk may read its next chunk ahead while sending this one.
inline bool may_read_ahead(bool pressure) {
    return !pressure;
}

}  // namespace policy
