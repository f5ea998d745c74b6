// PhaseDeadline: the one deadline of the phase a ClientConnection is in, armed with its purpose.
//
// A connection is in one phase at a time (waiting for a request, for the origin's head, for body
// bytes, lingering after its FIN, ...), so it holds one deadline: arming replaces the pending one,
// and what fires is the purpose named where it was armed (ClientConnection::on_deadline,
// client_timer.cpp), never guessed from flags when it fires. stop() when the phase ends without
// a successor (a head arrived; a cached response has bytes again).
//
// Thread: the loop thread. Not copyable or movable (LoopTimer): libuv holds its address.
#pragma once

#include <uv.h>

#include "proxy/loop/loop_timer.h"

namespace proxy {

// What a ClientConnection's deadline is for, and what happens when it expires.
enum class Deadline {
    NextRequest,   // the client must send (the rest of) a request head: keep-alive close, or 408
    UpstreamHead,  // the origin must answer (or finish a held mirror answer): 504
    OriginSilent,  // a pass-through body that stops coming is cut after stall_timeout
    GapBudget,     // a cached response waiting for bytes: the client is closed short
    Linger,        // after our FIN, unread input is drained this long, then the socket closes
    Credentials,   // a request held for its credentials' check (client_auth.cpp): 503
};

class PhaseDeadline {
  public:
    // `Fire` is called on `owner` when the deadline expires; it reads purpose().
    template <class Owner, void (Owner::*Fire)()>
    void init(uv_loop_t* loop, Owner* owner) {
        timer_.init<Owner, Fire>(loop, owner);
    }

    void arm(Deadline purpose, double seconds) {
        purpose_ = purpose;
        timer_.start_seconds(seconds);
    }
    void stop() { timer_.stop(); }
    Deadline purpose() const { return purpose_; }
    // As LoopTimer::close: `closed` receives the handle with `data` pointing at the owner.
    void close(uv_close_cb closed) { timer_.close(closed); }

  private:
    LoopTimer timer_;
    Deadline purpose_ = Deadline::NextRequest;
};

}  // namespace proxy
