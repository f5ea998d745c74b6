// DeferredCall: "run this on the next loop iteration", for work that must not run inside the
// callback that asks for it. libcurl refuses curl_multi_add_handle inside its own callbacks, an
// object must not be freed while it is calling out, and a writer must not be re-entered by the
// bytes it asked for.
//
// The owner keeps what is due (flags, queues) and one member function that does all of it,
// fixed at init(). post() asks for one run: posting again before it ran still runs it once, and
// posting from inside the run asks for another. It is a LoopTimer started at 0 ms, so the run
// happens in the timers phase of the next loop iteration, after the callback that posted returned.
//
// Thread: the loop thread. Not copyable or movable: libuv holds its address. The owner closes it
// with close() like any uv handle (LoopTimer::close: `data` points at the owner).
#pragma once

#include <uv.h>

#include "proxy/loop/loop_timer.h"

namespace proxy {

class DeferredCall {
  public:
    // `Run` is called on `owner` once after each post().
    template <class Owner, void (Owner::*Run)()>
    void init(uv_loop_t* loop, Owner* owner) {
        timer_.init<Owner, Run>(loop, owner);
    }

    void post() { timer_.start(0); }
    void close(uv_close_cb closed) { timer_.close(closed); }

  private:
    LoopTimer timer_;
};

}  // namespace proxy
