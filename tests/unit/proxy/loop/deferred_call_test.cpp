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

void close_and_check(uv_loop_t& loop, Owner& owner) {
    owner.deferred.close([](uv_handle_t*) {});
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("proxy/loop/deferred_call: posts before the run collapse into one run") {
    uv_loop_t loop;
    uv_loop_init(&loop);
    Owner owner;
    owner.deferred.init<Owner, &Owner::run>(&loop, &owner);
    owner.deferred.post();
    owner.deferred.post();
    CHECK(owner.runs == 0);  // not inside the caller
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(owner.runs == 1);
    close_and_check(loop, owner);
}

TEST_CASE("proxy/loop/deferred_call: a post from inside the run runs it again") {
    uv_loop_t loop;
    uv_loop_init(&loop);
    Owner owner;
    owner.deferred.init<Owner, &Owner::run>(&loop, &owner);
    owner.repost = 2;
    owner.deferred.post();
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(owner.runs == 3);
    close_and_check(loop, owner);
}

TEST_CASE("proxy/loop/deferred_call: nothing runs without a post") {
    uv_loop_t loop;
    uv_loop_init(&loop);
    Owner owner;
    owner.deferred.init<Owner, &Owner::run>(&loop, &owner);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(owner.runs == 0);
    close_and_check(loop, owner);
}

}  // namespace
}  // namespace proxy
