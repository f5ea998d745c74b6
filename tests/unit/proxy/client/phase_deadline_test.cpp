// PhaseDeadline on a real libuv loop: one deadline at a time, the purpose it fires with is the
// one it was last armed with, and a stopped deadline does not fire. Every test ends with
// uv_loop_close() == 0: the timer's handle is closed.
#include "proxy/client/phase_deadline.h"

#include <doctest/doctest.h>
#include <uv.h>

#include <vector>

namespace proxy {
namespace {

struct Owner {
    PhaseDeadline deadline;
    std::vector<Deadline> fired;
    void on_deadline() { fired.push_back(deadline.purpose()); }
};

// Runs the loop until the deadline has fired or cannot fire any more, then closes it.
void run_and_close(uv_loop_t& loop, Owner& owner) {
    uv_run(&loop, UV_RUN_DEFAULT);
    owner.deadline.close([](uv_handle_t*) {});
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("proxy/client/phase_deadline: re-arming replaces the pending deadline and its purpose") {
    uv_loop_t loop;
    uv_loop_init(&loop);
    Owner owner;
    owner.deadline.init<Owner, &Owner::on_deadline>(&loop, &owner);
    owner.deadline.arm(Deadline::NextRequest, 0.05);
    owner.deadline.arm(Deadline::UpstreamHead, 0.001);
    run_and_close(loop, owner);
    REQUIRE(owner.fired.size() == 1);
    CHECK(owner.fired[0] == Deadline::UpstreamHead);
}

TEST_CASE("proxy/client/phase_deadline: a stopped deadline does not fire") {
    uv_loop_t loop;
    uv_loop_init(&loop);
    Owner owner;
    owner.deadline.init<Owner, &Owner::on_deadline>(&loop, &owner);
    owner.deadline.arm(Deadline::Linger, 0.001);
    owner.deadline.stop();
    run_and_close(loop, owner);
    CHECK(owner.fired.empty());
}

}  // namespace
}  // namespace proxy
