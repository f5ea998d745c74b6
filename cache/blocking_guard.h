// BlockingGuard: names the one thread on which the cache must never block, and aborts a call that
// would block there.
//
// The proxy runs its network on a single event-loop thread; a write-transaction begin or commit
// (LMDB's writer lock, its page flush), an fsync/fdatasync or the unlink of a body file can take
// milliseconds to seconds on a busy disk and would stall every connection. The proxy names that
// thread (Store::forbid_blocking_on) and runs those calls on worker threads; this guard turns a
// call that slips back onto the loop into an assertion failure (abort) instead of a latency bug
// found in production. cache/ only sees a std::thread::id: it knows nothing of the event loop.
//
// Until forbid() is called no thread is forbidden (dlproxyctl and tests never name one). The
// check is an assert(): on in every build of this project (meson sets b_ndebug=false), compiled
// out only in an NDEBUG build.
#pragma once

#include <atomic>
#include <thread>

namespace cache {

class BlockingGuard {
  public:
    // From now on check() fails on thread `id`; a default-constructed id forbids none.
    void forbid(std::thread::id id) noexcept { forbidden_.store(id, std::memory_order_relaxed); }

    // Asserts the calling thread is not the forbidden one. `what` names the blocking call in the
    // message printed before the abort. A null guard pointer checks nothing (see check_blocking).
    void check(const char* what) const noexcept;

  private:
    std::atomic<std::thread::id> forbidden_{};
};

// The call sites hold a possibly null pointer (a BodyFiles or Env used outside a Store).
inline void check_blocking(const BlockingGuard* guard, const char* what) noexcept {
    if (guard != nullptr) guard->check(what);
}

}  // namespace cache
