// Fetch: how far its fill may run ahead of its clients (policy/fill_pace.h decides;
// docs/many-clients.md "Each client at its own pace").
#include "policy/fill_pace.h"
#include "proxy/fetch/fetch.h"
#include "proxy/fetch/fetch_registry.h"

namespace proxy {

std::optional<uint64_t> Fetch::lead_reader() const {
    std::optional<uint64_t> lead;
    for (const FetchListener* l : listeners_)
        if (auto p = l->read_position(); p && (!lead || *p > *lead)) lead = p;
    return lead;
}

policy::FillPace Fetch::pace() const {
    policy::FillPaceInput in;
    in.fill_position = next_;
    in.run_begin = run_begin_;
    in.lead = lead_reader();
    in.window = memory_limits().window;  // the fill's share of the memory budget
    in.ms_since_progress = uv_now(registry_.loop()) - reader_progress_ms_;
    in.held = paused_for_readers_;
    in.ms_held = paused_for_readers_ ? uv_now(registry_.loop()) - held_since_ms_ : 0;
    if (breath_since_ms_) in.ms_since_breath = uv_now(registry_.loop()) - *breath_since_ms_;
    return policy::decide_fill_pace(in);
}

void Fetch::reader_progress() {
    reader_progress_ms_ = uv_now(loop());
    if (paused_for_readers_ && pace() != policy::FillPace::Hold) wake_held_fill();
    release_fill_behind();
}

// Called from CachedResponse::pump (which must not be re-entered: a resumed transfer may deliver
// bytes at once) and from detach: the resumption waits for the timer (next loop iteration),
// whose on_timer runs maybe_resume. Not while a retry waits: that timer keeps its backoff.
void Fetch::wake_held_fill() {
    if (paused_for_readers_ && engine_->running() && !engine_->retry_pending())
        uv_timer_start(&timer_, &Fetch::timer_cb, 0, kTickMs);
}

}  // namespace proxy
