// PassThrough: the upstream side of a request a ClientConnection passes through, not through the
// cache (client_forwarding.cpp): its UpstreamTransfer, then — once its answer is a resumable 200
// (client_pass_resume.cpp) — the resume engine that took the transfer over, and the XorbCapture
// that stores a Xet xorb answer as it passes (client_xorb.cpp).
//
// At most one of `transfer` and `resume` is set: adopting moves the transfer into the engine.
// Emptied for each request (ClientConnection::reset_for_next_request); on close the transfer is
// detached and the engine stopped, and both are freed with the connection, outside curl
// callbacks. Thread: the loop thread.
#pragma once

#include <memory>

#include "proxy/upstream/resumable_transfer.h"
#include "proxy/upstream/upstream_transfer.h"
#include "proxy/xet/xorb_capture.h"

namespace proxy {

struct PassThrough {
    std::unique_ptr<UpstreamTransfer> transfer;  // the running request, until resumable
    std::unique_ptr<ResumableTransfer> resume;   // the transfer once resumable (it left `transfer`)
    std::unique_ptr<xet::XorbCapture> xorb_capture;  // a xorb answer being stored

    // Bytes may still come from the origin for the client.
    bool running() const { return transfer || resume; }
};

}  // namespace proxy
