// LoopTimer: one uv_timer_t with one purpose, embedded in the object it belongs to.
//
// The timer calls one member function of its owner, fixed at init(). Re-arming replaces the
// pending expiry (uv_timer_start), so a timer whose purpose is "the current deadline" holds at
// most one. The owner closes it with close() like any uv handle: memory is freed only after the
// close callback, which receives the handle with `data` pointing at the owner (so one close
// callback can count an owner's handles, as ClientConnection does).
//
// Thread: the loop thread. Not copyable or movable: libuv holds its address.
#pragma once

#include <uv.h>

#include <cstdint>

namespace proxy {

class LoopTimer {
  public:
    LoopTimer() = default;
    LoopTimer(const LoopTimer&) = delete;
    LoopTimer& operator=(const LoopTimer&) = delete;

    // `Fire` is called on `owner` each time the timer expires.
    template <class Owner, void (Owner::*Fire)()>
    void init(uv_loop_t* loop, Owner* owner) {
        uv_timer_init(loop, &timer_);
        timer_.data = owner;
        fire_ = [](void* o) { (static_cast<Owner*>(o)->*Fire)(); };
    }

    // One expiry `ms` from now (0: the next loop iteration), replacing a pending one.
    void start(uint64_t ms) { uv_timer_start(&timer_, &LoopTimer::timer_cb, ms, 0); }
    void start_seconds(double seconds) { start(static_cast<uint64_t>(seconds * 1000)); }
    // An expiry every `ms` from now until stop(), replacing a pending one: for a check that
    // repeats while a condition lasts (the owner stops it when the condition ends).
    void start_every(uint64_t ms) { uv_timer_start(&timer_, &LoopTimer::timer_cb, ms, ms); }
    void stop() { uv_timer_stop(&timer_); }
    bool active() const { return uv_is_active(reinterpret_cast<const uv_handle_t*>(&timer_)); }
    void close(uv_close_cb closed) {
        uv_timer_stop(&timer_);
        uv_close(reinterpret_cast<uv_handle_t*>(&timer_), closed);
    }

  private:
    static void timer_cb(uv_timer_t* timer) noexcept {
        // timer_ is the first member of a standard-layout class: the handle is the LoopTimer.
        auto* self = reinterpret_cast<LoopTimer*>(timer);
        self->fire_(timer->data);
    }

    uv_timer_t timer_{};
    void (*fire_)(void*) = nullptr;
};

}  // namespace proxy
