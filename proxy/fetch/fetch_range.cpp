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

bool Fetch::main_fill_running() const {
    // A fill waiting for a fresh signed URL resumes at cursor_.next() as soon as it has one: a
    // client waiting there meanwhile is not a reason to fetch the same bytes separately (under
    // load, a launcher test saw the origin send 1.19x the object that way).
    return engine_->active() || cursor_.replan_due() || identity_.refreshing();
}

void Fetch::want_range(uint64_t from, uint64_t to) {
    const Config& config = registry_.config();
    if (outcome_.state() != State::Ready || closing_ || !pipeline_.caching() || pacer_.stopped() ||
        config.max_range_fetches == 0 || from >= to || from >= object().complete_length)
        return;
    if (range_fills_.blocked(uv_now(loop()))) return;
    auto first = static_cast<uint32_t>(object().chunk_of(from));
    const bool main_running = main_fill_running();
    if (held(first) || range_fills_.claims(first) ||
        (main_running && first == cursor_.chunk_index()))
        return;
    // Without a strong validator for If-Range, a second request could return a different
    // version of the object: its bytes would be spliced into this one.
    auto v = validator();
    if (!v) return;
    policy::RangeWaitInput in;
    in.wanted = from;
    // The main fill is heading there when its current run (or the retry of it) covers `from`.
    if ((engine_->running() || engine_->retry_pending() || identity_.refreshing()) &&
        first > cursor_.chunk_index() && from < cursor_.run_end())
        in.fill_position = cursor_.next();
    in.wait_distance = config.range_wait_distance;
    in.max_fetches = config.max_range_fetches;
    in.fetches_running = range_fills_.running();
    auto decision = policy::decide_range_wait(in);
    if (!decision.fetch_separately) return;

    auto last =
        static_cast<uint32_t>(object().chunk_of(std::min(to, object().complete_length) - 1));
    uint32_t end = first;
    while (end <= last && !held(end) && !range_fills_.claims(end) &&
           !(main_running && end == cursor_.chunk_index()))
        ++end;
    spdlog::info(
        "fetch {}: a client needs byte {}, the fill is at {}: fetching chunks {}..{} "
        "separately ({})",
        key_, from, in.fill_position ? std::to_string(*in.fill_position) : "-", first, end - 1,
        policy::to_string(decision.reason));
    RangeFill& fill = range_fills_.add(*this, first, end);
    if (registry_.curl().in_action()) {
        deferred_.post();  // curl refuses new handles here: started from the deferred call
        return;
    }
    RangeFillSet::start(fill, request_, v);
}

void Fetch::accept_range_chunk(ChunkPtr chunk) {
    uint32_t index = chunk->index;
    if (held(index) || closing_) return;
    pipeline_.add(std::move(chunk));
    maybe_stage();
    notify_progress();
}

void Fetch::range_fill_over(RangeFill& fill, RangeFillEnd why, std::string_view detail) {
    if (closing_) return;
    if (is_failure(why)) {
        range_fills_.failed(uv_now(loop()));
    }
    if (why == RangeFillEnd::Done)
        spdlog::info("fetch {}: separate range fetch done (up to chunk {})", key_,
                     fill.position() - 1);
    else
        spdlog::info(
            "fetch {}: separate range fetch ended at chunk {}: {}{}{}; the main fill takes "
            "over",
            key_, fill.position(), to_string(why), detail.empty() ? "" : ": ", detail);
    deferred_.post();  // freed from the deferred call, outside its own callbacks
    // Chunks it did not fill are the main fill's again; if that is idle, it plans now.
    if (outcome_.state() == State::Ready && !pacer_.stopped() && !main_fill_running() &&
        !listeners_.empty())
        schedule_replan();
}

// Planning the main fill: which chunks are held, and the next run of missing ones.

// Recorded, written and waiting for its record, or in memory waiting to be written.
bool Fetch::held(uint32_t index) const {
    return stored_.present().contains(index) || pipeline_.holds(index);
}

CacheResult Fetch::held_result(uint64_t from, uint64_t to) const {
    if (to <= from || stored_.present().size() == 0) return outcome_.result();
    const auto first = static_cast<uint32_t>(object().chunk_of(from));
    const auto last = static_cast<uint32_t>(object().chunk_of(to - 1));
    if (!held(first)) return CacheResult::Miss;
    for (uint32_t i = first + 1; i <= last && i < stored_.present().size(); ++i)
        if (!held(i)) return CacheResult::PartialHit;
    return CacheResult::Hit;
}

bool Fetch::fill_done() const {
    if (stored_.present().size() == 0) return false;
    for (uint32_t i = 0; i < stored_.present().size(); ++i)
        if (!held(i)) return false;
    return true;
}

// Chooses the next run of missing chunks and asks for it with Range + If-Range.
void Fetch::plan_fill(uint32_t from) {
    if (outcome_.state() == State::Failed || engine_->running() || engine_->retry_pending()) return;
    // Chunks a range fill is fetching are skipped like held ones (fetch_range.cpp); when it
    // ends, this runs again.
    auto first_missing = [this](uint32_t i) {
        while (i < stored_.present().size() && (held(i) || range_fills_.claims(i)))
            ++i;
        return i;
    };
    uint32_t first = first_missing(std::min(from, stored_.present().size()));
    if (first >= stored_.present().size()) first = first_missing(0);
    if (first >= stored_.present().size()) {
        finish_object();
        return;
    }
    uint32_t last = first;
    while (last < stored_.present().size() && !held(last) && !range_fills_.claims(last))
        ++last;
    cursor_.set_purpose(Purpose::Range);
    cursor_.begin_run(object().chunk_begin(first),
                      std::min<uint64_t>(object().chunk_begin(last), object().complete_length),
                      first);
    start_transfer({}, "fill missing range", run(cursor_.next(), cursor_.run_end()));
}

}  // namespace proxy
