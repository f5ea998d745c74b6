// ResumableTransfer's timers, shared by the engine's .cpp files only (resumable_transfer*.cpp).
#pragma once

#include <uv.h>

#include <memory>
#include <vector>

#include "proxy/upstream/resumable_transfer.h"

namespace proxy {

// The engine's timers, one purpose each, and, when it is destroyed inside a curl callback, the
// transfers it can only free later. Outlives the engine: deleted once all three are closed.
struct ResumableTransfer::Timers {
    uv_timer_t wake{};   // the pending start or retry (one-shot: wake_in, on_wake)
    uv_timer_t watch{};  // the stall watch while a transfer runs (repeating: on_watch)
    uv_timer_t reap{};   // frees retired transfers outside curl callbacks (one-shot: retire)
    ResumableTransfer* engine = nullptr;
    std::vector<std::unique_ptr<UpstreamTransfer>> doomed;
    int open = 3;
};

}  // namespace proxy
