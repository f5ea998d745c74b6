#include "policy/fill_pace.h"

namespace policy {

FillPace decide_fill_pace(const FillPaceInput& in) {
    if (in.window == 0 || !in.lead) return FillPace::Run;
    const uint64_t lead = *in.lead;
    if (lead < in.run_begin) return FillPace::Run;  // reading stored bytes, not following
    if (in.ms_since_progress >= in.give_up_ms) return FillPace::Run;  // stopped reading
    if (in.held && in.ms_held >= in.max_hold_ms) return FillPace::Breathe;
    if (!in.held && in.ms_since_breath < in.breathe_ms) return FillPace::Run;
    if (in.fill_position <= lead) return FillPace::Run;
    const uint64_t ahead = in.fill_position - lead;
    return ahead > (in.held ? in.window / 2 : in.window) ? FillPace::Hold : FillPace::Run;
}

bool within_lead_window(uint64_t chunk_begin, uint64_t chunk_end, std::optional<uint64_t> lead,
                        uint64_t window) {
    if (window == 0 || !lead) return false;
    return chunk_end > *lead && chunk_begin < *lead + window;
}

}  // namespace policy
