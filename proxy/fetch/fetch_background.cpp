// Fetch: what a fill does when its last client has gone (policy/background_fill.h decides).
#include <spdlog/spdlog.h>

#include <utility>

#include "policy/background_fill.h"
#include "proxy/fetch/fetch.h"
#include "proxy/fetch/fetch_registry.h"

namespace proxy {

// Fetching, or about to fetch again, with bytes still to go.
bool Fetch::filling() const {
    return outcome_.state() == State::Ready && pipeline_.caching() && !closing_ &&
           (engine_->active() || cursor_.replan_due());
}

bool Fetch::filling_without_clients() const {
    return listeners_.empty() && filling();
}

uint64_t Fetch::bytes_held() const {
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < stored_.present().size(); ++i)
        if (held(i)) bytes += object().chunk_length(i);
    return bytes;
}

void Fetch::on_last_detach() {
    // Range fills serve the clients that asked for them; a background fill covers their
    // regions in its turn.
    range_fills_.end_all("no clients left");
    // The fill behind a cold range waited for that range's clients; they have gone.
    const bool behind = cold_.abandon_behind();
    if (!filling() && !behind) return;
    uint32_t running = registry_.fills_without_clients(this);
    auto decision = policy::decide_background_fill(
        registry_.config().background_fill, bytes_held(), object().complete_length, running,
        cold_.started_by_range() ? policy::FillOrigin::ColdRange : policy::FillOrigin::WholeObject);
    if (decision.keep_filling) {
        spdlog::info("fetch {}: no clients left; filling in the background ({})", key_,
                     policy::to_string(decision.reason));
        if (behind) plan_fill();
        return;
    }
    stop_fill(policy::to_string(decision.reason));
}

// Stops asking the origin; chunks already complete are still written and recorded, so the
// cache keeps a partial object that a later request completes with a Range fill.
void Fetch::stop_fill(std::string_view why) {
    // A chunk partly received is finished first while its transfer runs: dropping it would throw
    // away bytes already here, and the next reader of that chunk would ask the origin for it
    // again (a cold range's last chunk, whose client left with its first bytes). At most one
    // chunk more comes from the origin; seal_chunk() stops the fill then.
    const uint32_t index = cursor_.chunk_index();
    if (pipeline_.caching() && !cursor_.chunk_bytes().empty() && engine_->running() &&
        !pacer_.held_for_readers() && !pacer_.finishing_chunk() &&
        cursor_.run_end() >= object().chunk_begin(index) + object().chunk_length(index)) {
        spdlog::info(
            "fetch {}: no clients left; finishing chunk {} ({} of {} bytes) before "
            "stopping the fill ({})",
            key_, index, cursor_.chunk_bytes().size(), object().chunk_length(index), why);
        pacer_.finish_chunk_then_stop();
        return;
    }
    spdlog::info("fetch {}: no clients left; stopping the fill at {} of {} bytes ({})", key_,
                 bytes_held(), object().complete_length, why);
    cursor_.cancel_replan();
    pacer_.stop();
    retire_transfer();     // safe inside a curl callback; a pending retry is dropped too
    cursor_.drop_chunk();  // a chunk not yet complete is fetched again later
}

// A client attached to a fetch whose fill was stopped: fetch the missing chunks again.
void Fetch::restart_fill() {
    pacer_.clear_stop();
    if (outcome_.state() != State::Ready || engine_->running() || engine_->retry_pending() ||
        !pipeline_.caching())
        return;
    spdlog::info("fetch {}: a client is back; filling again", key_);
    engine_->reset_outage();
    plan_fill();
}

}  // namespace proxy
