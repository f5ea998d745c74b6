// Ranges on a cold object (issue 18 item 3): the first request for an object nobody holds asks
// the origin for the client's own range -- aligned out to whole chunks, so what arrives is
// stored like any fill -- instead of the whole object from byte 0, as Traffic Server and
// nginx's slice module do. The fill continues behind it (Fetch::plan_fill fetches the missing
// runs, from byte 0, once that range is in).
//
// plan_cold_range decides whether a client's Range qualifies and what to ask for;
// accept_cold_range judges the origin's answer. Only a 206 for exactly the asked range, with a
// complete length and a strong validator, starts the object: without the validator the later
// runs could not be tied to the same version with If-Range. Anything else makes the fetch
// start over with a plain GET, as it did before.
//
// Pure. Ranges are half-open; `end` of an open-ended request is the complete length.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "policy/byte_range.h"
#include "policy/header_list.h"

namespace policy {

struct ColdRange {
    uint64_t begin = 0;           // aligned down to a chunk boundary
    std::optional<uint64_t> end;  // aligned up to a chunk boundary; nullopt: to the end
    friend bool operator==(const ColdRange&, const ColdRange&) = default;
};

// The client's `Range` qualifies when it is one range with a first position ("a-b" or "a-"),
// other than "0-" (the whole object is what a plain GET asks for anyway). Suffix ranges ("-n")
// need the length first, and several ranges are answered with the whole object: neither
// qualifies. `chunk_size` > 0.
std::optional<ColdRange> plan_cold_range(std::string_view range_header, uint64_t chunk_size);

// "bytes=<begin>-<end-1>" or "bytes=<begin>-".
std::string format_cold_range(const ColdRange& range);

enum class ColdRangeReason {
    Usable,
    NotPartial,         // not a 206 (a 200: the origin ignores Range; an error status)
    BadContentRange,    // missing, unparsable, or without a complete length ("bytes a-b/*")
    NotAsked,           // a range other than the one asked (or a multipart answer)
    NoStrongValidator,  // nothing to tie the later fills to this version with If-Range
};

std::string_view to_string(ColdRangeReason r);

struct ColdRangeAnswer {
    ColdRangeReason reason = ColdRangeReason::NotPartial;
    uint64_t complete_length = 0;  // when usable
    ByteRange range;               // when usable: what the body holds
    bool usable() const { return reason == ColdRangeReason::Usable; }
};

ColdRangeAnswer accept_cold_range(const ColdRange& asked, int status, const HeaderList& headers);

// The answer's head as the stored object's 200 head: Content-Range removed, Content-Length the
// complete length.
HeaderList whole_object_head(const HeaderList& partial_headers, uint64_t complete_length);

}  // namespace policy
