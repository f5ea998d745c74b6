// ColdRangeStart: the cold range's plan and the fill behind its run (cold_range_start.h).
#include "proxy/fetch/cold_range_start.h"

#include <utility>

#include "proxy/fetch/fetch.h"

namespace proxy {

void ColdRangeStart::remember(std::optional<std::string_view> range, uint64_t chunk_size,
                              bool enabled) {
    if (range) wanted_ = policy::plan_cold_range(*range, chunk_size);
    if (enabled) plan_ = wanted_;
}

void ColdRangeStart::started_object(policy::ByteRange run) {
    plan_.reset();
    run_ = run;
    started_by_range_ = true;
}

void ColdRangeStart::serve_stored(policy::ByteRange run) {
    plan_.reset();
    run_ = run;
    behind_waiting_ = true;
    started_by_range_ = true;
}

bool ColdRangeStart::reader_inside(const std::vector<FetchListener*>& listeners) const {
    for (const auto* l : listeners)
        if (auto pos = l->read_position(); pos && run_->contains(*pos)) return true;
    return false;
}

bool ColdRangeStart::hold_behind(const std::vector<FetchListener*>& listeners) {
    if (!run_) return false;
    if (!listeners.empty() && reader_inside(listeners)) {
        behind_waiting_ = true;
        return true;
    }
    run_.reset();
    return false;
}

bool ColdRangeStart::release_behind(const std::vector<FetchListener*>& listeners) {
    if (!behind_waiting_ || listeners.empty() || reader_inside(listeners)) return false;
    behind_waiting_ = false;
    run_.reset();
    return true;
}

bool ColdRangeStart::abandon_behind() {
    const bool behind = std::exchange(behind_waiting_, false);
    if (behind) run_.reset();
    return behind;
}

}  // namespace proxy
