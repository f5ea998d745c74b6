#include "policy/range_wait.h"

namespace policy {

std::string_view to_string(RangeWaitReason r) {
    switch (r) {
        case RangeWaitReason::FillArrivesSoon:
            return "the fill arrives there soon";
        case RangeWaitReason::TooManyFetches:
            return "enough separate range fetches run already";
        case RangeWaitReason::FarAhead:
            return "beyond the wait distance of the fill";
        case RangeWaitReason::FillNotHeading:
            return "the fill is not heading there";
    }
    return "?";
}

RangeWaitDecision decide_range_wait(const RangeWaitInput& in) {
    // A fill already past `wanted` in its run cannot be (it would hold the byte); treat a
    // position after it like no fill heading there.
    bool heading = in.fill_position && *in.fill_position <= in.wanted;
    if (heading && in.wanted - *in.fill_position <= in.wait_distance)
        return {false, RangeWaitReason::FillArrivesSoon};
    if (in.fetches_running >= in.max_fetches) return {false, RangeWaitReason::TooManyFetches};
    return {true, heading ? RangeWaitReason::FarAhead : RangeWaitReason::FillNotHeading};
}

}  // namespace policy
