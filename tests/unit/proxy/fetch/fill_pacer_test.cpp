// proxy/fetch/fill_pacer.h on a real libuv loop: the hold re-check fires only while the fill is
// held for its readers, a disk pause arms nothing, and a stopped fill is remembered. Every test
// ends with uv_loop_close() == 0: the pacer's timer is closed.
#include "proxy/fetch/fill_pacer.h"

#include <doctest/doctest.h>
#include <uv.h>

namespace proxy {
namespace {

struct Owner {
    FillPacer pacer;
    int rechecks = 0;
    int release_after = 0;  // rechecks until the "readers" catch up
    void recheck() {
        if (++rechecks >= release_after) pacer.clear();
    }
};

// A loop with the pacer's timer on it; at the end the handle is closed and the loop with it.
struct OnLoop {
    uv_loop_t loop;
    Owner owner;
    OnLoop() {
        uv_loop_init(&loop);
        owner.pacer.init<Owner, &Owner::recheck>(&loop, &owner);
    }
    ~OnLoop() {
        owner.pacer.close([](uv_handle_t*) {});
        run();
        CHECK(uv_loop_close(&loop) == 0);
    }
    void run() { uv_run(&loop, UV_RUN_DEFAULT); }
};

TEST_CASE_FIXTURE(OnLoop, "proxy/fetch/fill_pacer: the hold re-check repeats until the hold ends") {
    owner.release_after = 3;
    owner.pacer.hold_for_readers(uv_now(&loop));
    CHECK(owner.pacer.held_for_readers());
    CHECK(owner.pacer.paused());
    const uint64_t began = uv_now(&loop);
    run();  // returns once clear() stopped the re-check
    CHECK(owner.rechecks == 3);
    CHECK(uv_now(&loop) - began >= 3 * FillPacer::kRecheckMs);
    CHECK_FALSE(owner.pacer.held_for_readers());
}

TEST_CASE_FIXTURE(OnLoop, "proxy/fetch/fill_pacer: a disk pause or a cleared hold arms nothing") {
    CHECK(owner.pacer.disk_pause_ns(1000) == 0);  // not paused
    CHECK(owner.pacer.pause_for_disk(1000));
    CHECK(owner.pacer.paused_for_disk());
    CHECK_FALSE(owner.pacer.pause_for_disk(5000));  // still the same pause: it began at 1000
    CHECK(owner.pacer.disk_pause_ns(9000) == 8000);
    owner.pacer.hold_for_readers(uv_now(&loop));
    owner.pacer.clear_hold();  // a new transfer starts
    CHECK(owner.pacer.paused_for_disk());
    run();  // nothing active: returns at once
    CHECK(owner.rechecks == 0);
    owner.pacer.clear();
    CHECK(owner.pacer.disk_pause_ns(20000) == 0);
}

TEST_CASE_FIXTURE(
    OnLoop, "proxy/fetch/fill_pacer: a stopped fill holds no pause until a client restarts it") {
    owner.pacer.hold_for_readers(uv_now(&loop));
    owner.pacer.stop();
    CHECK(owner.pacer.stopped());
    CHECK_FALSE(owner.pacer.paused());
    run();
    CHECK(owner.rechecks == 0);
    owner.pacer.clear_stop();
    CHECK_FALSE(owner.pacer.stopped());
}

TEST_CASE_FIXTURE(OnLoop, "proxy/fetch/fill_pacer: the times it keeps go into the decision") {
    owner.pacer.reader_progressed(1000);
    owner.pacer.hold_for_readers(1500);
    policy::FillPaceInput in;
    in.fill_position = 100 << 20;
    in.lead = 0;
    in.window = 1 << 20;
    CHECK(owner.pacer.decide(in, 1600) == policy::FillPace::Hold);
    // The reader stopped reading (give_up_ms since its last progress): the fill goes on.
    CHECK(owner.pacer.decide(in, 1000 + in.give_up_ms) == policy::FillPace::Run);
    // Held for max_hold_ms while the reader still reads: the fill breathes.
    owner.pacer.reader_progressed(1500 + in.max_hold_ms);
    CHECK(owner.pacer.decide(in, 1500 + in.max_hold_ms) == policy::FillPace::Breathe);
    owner.pacer.clear();
}

TEST_CASE_FIXTURE(OnLoop, "proxy/fetch/fill_pacer: a chunk being finished before a stop") {
    owner.pacer.finish_chunk_then_stop();
    CHECK(owner.pacer.finishing_chunk());
    CHECK_FALSE(owner.pacer.stopped());
    owner.pacer.clear_stop();  // a client came back: the fill goes on
    CHECK_FALSE(owner.pacer.finishing_chunk());
    owner.pacer.finish_chunk_then_stop();
    owner.pacer.stop();  // the chunk is complete: stopped, nothing left to finish
    CHECK(owner.pacer.stopped());
    CHECK_FALSE(owner.pacer.finishing_chunk());
}

}  // namespace
}  // namespace proxy
