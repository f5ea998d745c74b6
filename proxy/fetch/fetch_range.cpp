// Fetch: separate upstream range fills for clients whose Range starts far ahead of the fill
// (issue 5 item 3; policy/range_wait.h decides, proxy/fetch/range_fill.h fetches).
//
// Division of labour: a range fill claims a run of chunks nobody holds, from the client's
// first missing chunk to its range's end (or the first chunk held or claimed by another).
// The main fill skips claimed chunks when it plans, and stops its current run when it reaches
// one, so the origin sends each byte about once. A range fill retries cuts through its own
// resume engine; one that stalls, is refused or gives up ends: its unfilled chunks are unclaimed
// and the main fill fetches them in its turn.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "policy/byte_range.h"
#include "policy/range_wait.h"
#include "proxy/fetch/fetch.h"
#include "proxy/fetch/fetch_registry.h"
#include "proxy/fetch/range_fill.h"

namespace proxy {

bool Fetch::claimed(uint32_t index) const {
    for (const auto& f : range_fills_)
        if (f->claims(index)) return true;
    return false;
}

bool Fetch::main_fill_running() const {
    return engine_->active() || replan_;
}

void Fetch::want_range(uint64_t from, uint64_t to) {
    const Config& config = registry_.config();
    if (state_ != State::Ready || closing_ || !caching_ || fill_stopped_ ||
        config.max_range_fetches == 0 || from >= to || from >= object_.complete_length)
        return;
    if (uv_now(loop()) < range_blocked_until_ms_) return;
    auto first = static_cast<uint32_t>(object_.chunk_of(from));
    const bool main_running = main_fill_running();
    if (held(first) || claimed(first) || (main_running && first == fill_index_)) return;
    // Without a strong validator for If-Range, a second request could return a different
    // version of the object: its bytes would be spliced into this one.
    auto v = validator();
    if (!v) return;
    policy::RangeWaitInput in;
    in.wanted = from;
    // The main fill is heading there when its current run (or the retry of it) covers `from`.
    if ((engine_->running() || engine_->retry_pending()) && first > fill_index_ && from < run_end_)
        in.fill_position = next_;
    in.wait_distance = config.range_wait_distance;
    in.max_fetches = config.max_range_fetches;
    for (const auto& f : range_fills_)
        if (f->running()) ++in.fetches_running;
    auto decision = policy::decide_range_wait(in);
    if (!decision.fetch_separately) return;

    auto last = static_cast<uint32_t>(object_.chunk_of(std::min(to, object_.complete_length) - 1));
    uint32_t end = first;
    while (end <= last && !held(end) && !claimed(end) && !(main_running && end == fill_index_))
        ++end;
    spdlog::info(
        "fetch {}: a client needs byte {}, the fill is at {}: fetching chunks {}..{} "
        "separately ({})",
        key_, from, in.fill_position ? std::to_string(*in.fill_position) : "-", first, end - 1,
        policy::to_string(decision.reason));
    range_fills_.push_back(std::make_unique<RangeFill>(*this, first, end));
    if (registry_.curl().in_action()) {
        uv_timer_start(&timer_, &Fetch::timer_cb, 0, kTickMs);  // curl refuses new handles here
        return;
    }
    start_range_fill(*range_fills_.back());
}

void Fetch::start_range_fill(RangeFill& fill) {
    auto v = validator();
    if (!v || !fill.start(request_, *v)) fill.end(RangeFillEnd::StartFailed);
}

void Fetch::accept_range_chunk(ChunkPtr chunk) {
    uint32_t index = chunk->index;
    if (held(index) || closing_) return;
    memory_[index] = chunk;
    if (caching_) {
        to_stage_.push_back(chunk);
        unwritten_bytes_ += chunk->bytes.size();
    }
    maybe_stage();
    notify_progress();
}

void Fetch::range_fill_over(RangeFill& fill, RangeFillEnd why, std::string_view detail) {
    if (closing_) return;
    if (is_failure(why)) {
        range_failures_ = std::min<uint32_t>(range_failures_ + 1, 6);
        range_blocked_until_ms_ = uv_now(loop()) + (1000ull << (range_failures_ - 1));
    }
    if (why == RangeFillEnd::Done)
        spdlog::info("fetch {}: separate range fetch done (up to chunk {})", key_,
                     fill.position() - 1);
    else
        spdlog::info(
            "fetch {}: separate range fetch ended at chunk {}: {}{}{}; the main fill takes "
            "over",
            key_, fill.position(), to_string(why), detail.empty() ? "" : ": ", detail);
    uv_timer_start(&timer_, &Fetch::timer_cb, 0, kTickMs);  // freed from the timer
    // Chunks it did not fill are the main fill's again; if that is idle, it plans now.
    if (state_ == State::Ready && !fill_stopped_ && !main_fill_running() && !listeners_.empty())
        schedule_replan();
}

void Fetch::tend_range_fills() {
    std::erase_if(range_fills_, [](const auto& f) { return !f->running(); });
    for (size_t i = 0; i < range_fills_.size(); ++i) {
        RangeFill& f = *range_fills_[i];
        if (!f.started()) start_range_fill(f);  // its engine watches it for stalls
    }
}

void Fetch::end_range_fills(std::string_view why) {
    for (size_t i = 0; i < range_fills_.size(); ++i)
        range_fills_[i]->end(RangeFillEnd::Stopped, why);
}

// Planning the main fill: which chunks are held, and the next run of missing ones.

// Recorded, written and waiting for its record, or in memory waiting to be written.
bool Fetch::held(uint32_t index) const {
    return present_.contains(index) || unrecorded_.contains(index) || memory_.contains(index);
}

bool Fetch::fill_done() const {
    if (present_.size() == 0) return false;
    for (uint32_t i = 0; i < present_.size(); ++i)
        if (!held(i)) return false;
    return true;
}

// Chooses the next run of missing chunks and asks for it with Range + If-Range.
void Fetch::plan_fill() {
    if (state_ == State::Failed || engine_->running() || engine_->retry_pending()) return;
    // Chunks a range fill is fetching are skipped like held ones (fetch_range.cpp); when it
    // ends, this runs again.
    uint32_t first = 0;
    while (first < present_.size() && (held(first) || claimed(first)))
        ++first;
    if (first >= present_.size()) {
        finish_object();
        return;
    }
    uint32_t last = first;
    while (last < present_.size() && !held(last) && !claimed(last))
        ++last;
    purpose_ = Purpose::Range;
    next_ = object_.chunk_begin(first);
    run_end_ = std::min<uint64_t>(object_.chunk_begin(last), object_.complete_length);
    fill_index_ = first;
    fill_.clear();
    start_transfer({}, "fill missing range", run(next_, run_end_));
}

}  // namespace proxy
