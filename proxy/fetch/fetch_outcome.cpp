// FetchOutcome: the strings of its enums, for logs and metrics labels only.
#include "proxy/fetch/fetch_outcome.h"

namespace proxy {

std::string_view to_string(FetchEnd e) {
    switch (e) {
        case FetchEnd::ObjectChanged:
            return "object changed on the origin";
        case FetchEnd::ResumeRefused:
            return "the origin refused the resume";
        case FetchEnd::RetriesExhausted:
            return "retries exhausted";
        case FetchEnd::NoValidator:
            return "cannot resume without a validator";
        case FetchEnd::Unusable:
            return "origin response unusable";
        case FetchEnd::StartFailed:
            return "could not start the upstream request";
        case FetchEnd::HostDown:
            return "origin unavailable";
    }
    return "failed";
}

std::string_view to_string(CacheResult r) {
    switch (r) {
        case CacheResult::Hit:
            return "HIT";
        case CacheResult::Miss:
            return "MISS";
        case CacheResult::PartialHit:
            return "PARTIAL_HIT";
        case CacheResult::Revalidated:
            return "REVALIDATED";
    }
    return "MISS";
}

}  // namespace proxy
