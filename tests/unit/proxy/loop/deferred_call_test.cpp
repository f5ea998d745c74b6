// proxy/loop/deferred_call.h on a real libuv loop: a post runs its owner once on the next loop
// iteration, not inside the caller; posts before the run collapse into one; a post from inside
// the run asks for another. Every test ends with uv_loop_close() == 0.
#include "proxy/loop/deferred_call.h"

#include <doctest/doctest.h>
#include <uv.h>

namespace proxy {
namespace {

struct Owner {
    DeferredCall deferred;
    int runs = 0;
    int repost = 0;  // how many times the run posts again
    void run() {
        ++runs;
        if (repost-- > 0) deferred.post();
    }
};

// A loop with the owner's call on it; at the end the handle is closed and the loop with it.
struct OnLoop {
    uv_loop_t loop;
    Owner owner;
    OnLoop() {
        uv_loop_init(&loop);
        owner.deferred.init<Owner, &Owner::run>(&loop, &owner);
    }
    ~OnLoop() {
        owner.deferred.close([](uv_handle_t*) {});
        uv_run(&loop, UV_RUN_DEFAULT);
        CHECK(uv_loop_close(&loop) == 0);
    }
    void run() { uv_run(&loop, UV_RUN_DEFAULT); }
};

TEST_CASE_FIXTURE(OnLoop, "proxy/loop/deferred_call: posts before the run collapse into one run") {
    owner.deferred.post();
    owner.deferred.post();
    CHECK(owner.runs == 0);  // not inside the caller
    run();
    CHECK(owner.runs == 1);
}

TEST_CASE_FIXTURE(OnLoop, "proxy/loop/deferred_call: a post from inside the run runs it again") {
    owner.repost = 2;
    owner.deferred.post();
    run();
    CHECK(owner.runs == 3);
}

TEST_CASE_FIXTURE(OnLoop, "proxy/loop/deferred_call: nothing runs without a post") {
    run();
    CHECK(owner.runs == 0);
}

}  // namespace
}  // namespace proxy
