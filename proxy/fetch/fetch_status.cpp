// Fetch::status() and FetchRegistry::inflight_fills(): the fills GET /status lists.
#include "proxy/fetch/fetch.h"
#include "proxy/fetch/fetch_registry.h"

namespace proxy {

FillStatus Fetch::status() const {
    FillStatus s;
    s.url = request_.url;
    s.key = key_;
    s.attempts = attempts_total_;
    s.memory_bytes = memory_held();
    s.clients = static_cast<uint32_t>(listeners_.size());
    s.content = content_state();
    s.announced_sha256 = identity_.announced_sha256();
    if (retry_pending_) s.retry_in_ms = uv_timer_get_due_in(&timer_);
    if (state_ == State::Ready || stored_complete_) {
        s.total = object_.complete_length;
        for (uint32_t i = 0; i < present_.size(); ++i)
            if (held(i)) s.bytes_done += object_.chunk_length(i);
        s.bytes_done += fill_.size();
    }
    uint64_t elapsed_ms = uv_now(registry_.loop()) - started_ms_;
    if (started_ms_ != 0 && elapsed_ms > 0)
        s.rate_bytes_per_s = static_cast<double>(bytes_received_) * 1000.0 / elapsed_ms;
    switch (state_) {
        case State::Starting:
            s.state = purpose_ == Purpose::Revalidate ? "revalidating" : "starting";
            break;
        case State::Failed:
            s.state = "failed";
            break;
        case State::Handed:
            s.state = "passed_through";
            break;
        case State::Ready:
            if (retry_pending_)
                s.state = "waiting_retry";
            else if (transfer_ && pacer_.paused_for_disk())
                s.state = "waiting_for_disk";
            else if (transfer_ && pacer_.held_for_readers())
                s.state = "waiting_for_clients";
            else if (transfer_ || deferred_start_)
                s.state = "transferring";
            else if (pipeline_.busy() || recording_)
                s.state = "writing";
            else
                s.state = "serving";  // nothing to fetch: clients read what is stored
            break;
    }
    return s;
}

std::vector<FillStatus> FetchRegistry::inflight_fills() const {
    std::vector<FillStatus> out;
    for (const auto& [key, fetch] : fetches_) {
        FillStatus s = fetch->status();
        if (s.state != "serving") out.push_back(std::move(s));
    }
    return out;
}

}  // namespace proxy
