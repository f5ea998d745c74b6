// XorbLookup: answers a Xet transfer request from the xorb's stored extents, when every range
// it asks for is there (issue 15 item 2, docs/huggingface.md "Xorb cache").
//
// Runs the store reads on a worker (they hash every piece they return, and drop a piece that
// fails), then calls back on the loop with either a complete answer -- 206 with Content-Range
// for one range, 206 multipart/byteranges with one part per requested range, in request order,
// under a boundary of dlproxy's own, otherwise -- or a miss, which the caller forwards exactly.
// Bytes that fail verification are never part of an answer: the read fails, the extent is
// dropped, and the request is forwarded (and its answer stored again).
//
// Memory: the answer is built whole before it is sent, so one hit holds its body once; requests
// over kMaxHitBytes are not answered from the cache. A xorb is at most 64 MiB, so a real
// client's request never is.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>

#include "policy/header_list.h"
#include "policy/xorb_request.h"

namespace cache {
class Store;
}

namespace proxy::xet {

struct XorbAnswer {
    bool hit = false;
    std::string why;             // a miss: what was lacking (for the debug log)
    policy::HeaderList headers;  // a hit: end-to-end headers with Content-Length
    std::string body;
};

inline constexpr uint64_t kMaxHitBytes = uint64_t{80} << 20;

// Looks up `xorb` for the Range value `range_value` on a worker; `done` runs on the loop thread
// (the caller makes sure what it captures is still alive, e.g. with a weak_ptr). `boundary_seed`
// makes the multipart boundary (any number; the boundary is "dlproxy-" + 16 hex digits of it).
// Returns false when the job could not be queued (then `done` never runs).
bool lookup_xorb(uv_loop_t* loop, cache::Store& store, const policy::XorbTarget& xorb,
                 std::string range_value, uint64_t boundary_seed, int64_t now,
                 std::function<void(XorbAnswer)> done);

// The answer for `ranges` of a xorb of `complete_length` bytes whose bytes, in range order,
// are `bytes` (pure formatting; exposed for the unit test).
XorbAnswer format_xorb_answer(const std::vector<policy::ByteRange>& ranges,
                              uint64_t complete_length, std::string_view bytes,
                              uint64_t boundary_seed);

}  // namespace proxy::xet
