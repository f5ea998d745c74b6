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
    in.fill_position = cursor_.next();
    in.run_begin = cursor_.run_begin();
    in.lead = lead_reader();
    in.window = memory_limits().window;  // the fill's share of the memory budget
    return pacer_.decide(in, uv_now(registry_.loop()));
}

void Fetch::reader_progress() {
    pacer_.reader_progressed(uv_now(loop()));
    if (pacer_.held_for_readers() && pace() != policy::FillPace::Hold) wake_held_fill();
    release_fill_behind();
}

// Called from CachedResponse::pump (which must not be re-entered: a resumed transfer may deliver
// bytes at once) and from detach: the resumption waits for the deferred call (next loop
// iteration), which runs maybe_resume. Not while a retry waits: the engine resumes then.
void Fetch::wake_held_fill() {
    if (pacer_.held_for_readers() && engine_->running() && !engine_->retry_pending())
        deferred_.post();
}

}  // namespace proxy
