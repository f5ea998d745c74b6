#include "policy/cold_range.h"

#include <algorithm>

#include "policy/cacheability.h"

namespace policy {

std::optional<ColdRange> plan_cold_range(std::string_view range_header, uint64_t chunk_size) {
    auto specs = parse_range_header(range_header);
    if (!specs || specs->size() != 1 || chunk_size == 0) return std::nullopt;
    const RangeSpec& spec = specs->front();
    if (spec.kind == RangeSpec::Kind::Suffix) return std::nullopt;
    if (spec.kind == RangeSpec::Kind::Open && spec.first == 0) return std::nullopt;
    ColdRange out;
    out.begin = spec.first / chunk_size * chunk_size;
    if (spec.kind == RangeSpec::Kind::Closed) {
        const uint64_t last_chunk = spec.last / chunk_size;
        // A last position near UINT64_MAX means "to the end": ask for it open-ended.
        if (last_chunk < UINT64_MAX / chunk_size - 1) out.end = (last_chunk + 1) * chunk_size;
    }
    return out;
}

std::string format_cold_range(const ColdRange& range) {
    std::string out = "bytes=" + std::to_string(range.begin) + "-";
    if (range.end) out += std::to_string(*range.end - 1);
    return out;
}

std::string_view to_string(ColdRangeReason r) {
    switch (r) {
        case ColdRangeReason::Usable:
            return "usable";
        case ColdRangeReason::NotPartial:
            return "not a 206";
        case ColdRangeReason::BadContentRange:
            return "Content-Range missing, invalid or without a complete length";
        case ColdRangeReason::NotAsked:
            return "not the range asked for";
        case ColdRangeReason::NoStrongValidator:
            return "no strong validator";
    }
    return "not usable";
}

ColdRangeAnswer accept_cold_range(const ColdRange& asked, int status, const HeaderList& headers) {
    ColdRangeAnswer out;
    if (status != 206) return out;
    auto value = find_header(headers, "content-range");
    auto parsed = parse_content_range(value.value_or(""));
    if (!value || !parsed || !parsed->range || !parsed->complete_length) {
        out.reason = ColdRangeReason::BadContentRange;
        return out;
    }
    const uint64_t length = *parsed->complete_length;
    const uint64_t end = asked.end ? std::min(*asked.end, length) : length;
    if (parsed->range->begin != asked.begin || parsed->range->end != end) {
        out.reason = ColdRangeReason::NotAsked;
        return out;
    }
    if (!strong_validator(headers)) {
        out.reason = ColdRangeReason::NoStrongValidator;
        return out;
    }
    out.reason = ColdRangeReason::Usable;
    out.complete_length = length;
    out.range = *parsed->range;
    return out;
}

HeaderList whole_object_head(const HeaderList& partial_headers, uint64_t complete_length) {
    HeaderList out = partial_headers;
    remove_header(out, "content-range");
    remove_header(out, "content-length");
    out.push_back({"Content-Length", std::to_string(complete_length)});
    return out;
}

}  // namespace policy
