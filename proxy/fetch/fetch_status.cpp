// Fetch::status() and FetchRegistry::inflight_fills(): the fills GET /status lists.
#include "proxy/fetch/fetch.h"
#include "proxy/fetch/fetch_registry.h"

namespace proxy {

FillStatus Fetch::status() const {
    FillStatus s;
    s.url = request_.url;
    s.key = key_;
    s.attempts = engine_->requests();
    s.memory_bytes = memory_held();
    s.clients = static_cast<uint32_t>(listeners_.size());
    s.content = content_state();
    s.announced_sha256 = identity_.announced_sha256();
    if (engine_->retry_pending()) s.retry_in_ms = engine_->retry_due_in_ms();
    if (outcome_.state() == State::Ready || stored_.stored_complete()) {
        s.total = object().complete_length;
        for (uint32_t i = 0; i < stored_.present().size(); ++i)
            if (held(i)) s.bytes_done += object().chunk_length(i);
        s.bytes_done += cursor_.chunk_bytes().size();
    }
    uint64_t elapsed_ms = uv_now(registry_.loop()) - started_ms_;
    if (started_ms_ != 0 && elapsed_ms > 0)
        s.rate_bytes_per_s = static_cast<double>(engine_->bytes_received()) * 1000.0 / elapsed_ms;
    if (fallback_.accepted()) s.fallback_source = fallback_.url();
    switch (outcome_.state()) {
        case State::Starting:
            s.state = cursor_.purpose() == Purpose::Revalidate ? "revalidating" : "starting";
            break;
        case State::Failed:
            s.state = "failed";
            break;
        case State::Handed:
            s.state = "passed_through";
            break;
        case State::Ready:
            if (engine_->retry_pending())
                s.state = "waiting_retry";
            else if (engine_->running() && pacer_.paused_for_disk())
                s.state = "waiting_for_disk";
            else if (engine_->running() && pacer_.held_for_readers())
                s.state = "waiting_for_clients";
            else if (engine_->active())
                s.state = "transferring";
            else if (pipeline_.busy() || stored_.recording())
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
