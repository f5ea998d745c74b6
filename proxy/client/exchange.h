// Exchange: one request a ClientConnection handles and what answered it, from the request head
// to its access-log line (docs/life-of-a-request.md).
//
// A request is answered one of four ways: by dlproxy itself (an error), through the cache (a
// CachedResponse reading a Fetch), passed through (an UpstreamTransfer the connection owns,
// resumable: client_pass_resume.cpp), or as a CONNECT tunnel. The exchange holds what every way
// shares: the request as logged, the upstream request, the cached reader and the mirror-mode
// rewriter when there is one, and the outcome — status, whether the head went out, body bytes,
// how the cache served it. Outcomes are enums until the access log and the metrics turn them
// into words (result()).
//
// A value: ClientConnection resets it for each request (after retiring its CachedResponse,
// which must not be freed while it is calling out). Thread: the loop thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "proxy/admin/metrics.h"
#include "proxy/client/cached_response.h"
#include "proxy/client/mirror_answer.h"
#include "proxy/upstream/upstream_transfer.h"

namespace proxy {

// The access-log result of a response served through the cache.
inline RequestResult request_result(CacheResult r) {
    switch (r) {
        case CacheResult::Hit:
            return RequestResult::Hit;
        case CacheResult::Miss:
            return RequestResult::Miss;
        case CacheResult::PartialHit:
            return RequestResult::PartialHit;
        case CacheResult::Revalidated:
            return RequestResult::Revalidated;
    }
    return RequestResult::Miss;
}

struct Exchange {
    // The request as logged: the method once the head is complete, and the URL (inside an
    // intercepted tunnel or in mirror mode, the https URL it was resolved to).
    std::string method;
    std::string url;
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

    UpstreamRequest upstream_request;         // what goes (or would go) to the origin
    std::unique_ptr<CachedResponse> cached;   // served through the cache
    bool cached_start_pending = false;        // started once the parser has returned
    std::unique_ptr<MirrorAnswer> mirror;     // set for a request served in mirror mode
    bool mirror_drops_authorization = false;  // policy::mirror_drops_authorization
    bool pass_through_due = false;  // the pass-through starts from the next loop iteration

    // How the cache served it (set when its head goes out); none: passed through.
    std::optional<CacheResult> cache_result;
    std::string upstream_address = "-";
    int status = 0;
    bool head_sent = false;
    uint64_t body_bytes = 0;
    uint64_t last_upstream_byte_ms = 0;  // pass-through: uv_now of the origin's last body bytes
    bool logged = false;                 // its access-log line is written

    // The result of a response that completed: how the cache served it, else passed through.
    RequestResult completed_result() const {
        return cache_result ? request_result(*cache_result) : RequestResult::Pass;
    }
};

}  // namespace proxy
