#include "cache/blocking_guard.h"

#include <cassert>
#include <cstdio>

namespace cache {

void BlockingGuard::check(const char* what) const noexcept {
    const bool allowed = std::this_thread::get_id() != forbidden_.load(std::memory_order_relaxed);
    // Say which call before the abort: the assert's own text cannot name it.
    if (!allowed) std::fprintf(stderr, "cache: %s on the thread that must never block\n", what);
    assert(allowed && "blocking cache call on the event-loop thread (run it on a worker)");
    (void)allowed;
}

}  // namespace cache
