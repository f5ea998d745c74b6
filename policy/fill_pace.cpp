#include "policy/fill_pace.h"

namespace policy {

bool hold_fill(const FillPaceInput& in) {
    if (in.window == 0 || !in.lead) return false;
    const uint64_t lead = *in.lead;
    if (lead < in.run_begin) return false;                    // reading stored bytes, not following
    if (in.ms_since_progress >= in.give_up_ms) return false;  // stopped reading: do not wait
    if (in.fill_position <= lead) return false;
    const uint64_t ahead = in.fill_position - lead;
    return in.held ? ahead > in.window / 2 : ahead > in.window;
}

bool within_lead_window(uint64_t chunk_begin, uint64_t chunk_end, std::optional<uint64_t> lead,
                        uint64_t window) {
    if (window == 0 || !lead) return false;
    return chunk_end > *lead && chunk_begin < *lead + window;
}

}  // namespace policy
