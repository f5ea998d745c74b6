#include "policy/circuit_breaker.h"

#include <doctest/doctest.h>

using policy::Admission;
using policy::BreakerConfig;
using policy::BreakerState;
using policy::CircuitBreaker;

namespace {

BreakerConfig small() {
    BreakerConfig c;
    c.failures = 3;
    c.window_ms = 10000;
    c.open_ms = 5000;
    c.max_open_ms = 15000;
    c.probe_timeout_ms = 20000;
    return c;
}

}  // namespace

TEST_CASE("policy/circuit_breaker: opens after N failures within the window, not spread wider") {
    struct Row {
        uint64_t t1, t2, t3;
        BreakerState after;
    };
    const Row rows[] = {
        {0, 1000, 2000, BreakerState::Open},
        {0, 5000, 10000, BreakerState::Open},    // the first is exactly window_ms old
        {0, 5000, 10001, BreakerState::Closed},  // the first has left the window
        {0, 9000, 18000, BreakerState::Closed},
    };
    for (const Row& r : rows) {
        CAPTURE(r.t3);
        CircuitBreaker b(small());
        b.on_failure(r.t1);
        b.on_failure(r.t2);
        b.on_failure(r.t3);
        CHECK(b.state() == r.after);
    }
}

TEST_CASE("policy/circuit_breaker: a success in between starts the count again") {
    CircuitBreaker b(small());
    b.on_failure(0);
    b.on_failure(100);
    CHECK(b.recent_failures(100) == 2);
    CHECK_FALSE(b.on_success(200));  // closed stays closed: no change
    b.on_failure(300);
    CHECK(b.state() == BreakerState::Closed);
    CHECK(b.recent_failures(300) == 1);
}

TEST_CASE("policy/circuit_breaker: open refuses, then one probe; its answer decides") {
    CircuitBreaker b(small());
    for (uint64_t t : {0, 10, 20})
        b.on_failure(t);
    REQUIRE(b.state() == BreakerState::Open);
    // Refused with Retry-After until the cool-down ends (never less than a second).
    struct Row {
        uint64_t now;
        Admission admission;
        uint64_t retry_after_ms;
    };
    const Row open_rows[] = {{20, Admission::Refuse, 5000},
                             {3000, Admission::Refuse, 2020},
                             {4500, Admission::Refuse, 1000}};
    for (const Row& r : open_rows) {
        CAPTURE(r.now);
        CHECK(b.admit(r.now) == r.admission);
        CHECK(b.retry_after_ms(r.now) == r.retry_after_ms);
    }
    CHECK(b.admit(5020) == Admission::Probe);
    CHECK(b.state() == BreakerState::HalfOpen);
    CHECK(b.admit(5021) == Admission::Refuse);  // the probe is out
    CHECK(b.retry_after_ms(5021) == 1000);

    SUBCASE("the probe succeeds: closed, everything allowed") {
        CHECK(b.on_success(5500));
        CHECK(b.state() == BreakerState::Closed);
        CHECK(b.admit(5501) == Admission::Allow);
    }
    SUBCASE("the probe fails: open again, twice as long, capped") {
        CHECK(b.on_failure(6000));
        CHECK(b.state() == BreakerState::Open);
        CHECK(b.open_ms() == 10000);
        CHECK(b.admit(15999) == Admission::Refuse);
        CHECK(b.admit(16000) == Admission::Probe);
        CHECK(b.on_failure(16100));
        CHECK(b.open_ms() == 15000);  // max_open_ms
        CHECK(b.admit(31100) == Admission::Probe);
        CHECK(b.on_success(31200));
        // Closed again: the next outage starts from open_ms.
        for (uint64_t t : {40000, 40001, 40002})
            b.on_failure(t);
        CHECK(b.open_ms() == 5000);
    }
    SUBCASE("a probe that never reports is replaced after probe_timeout_ms") {
        CHECK(b.admit(25019) == Admission::Refuse);
        CHECK(b.admit(25020) == Admission::Probe);
    }
}

TEST_CASE("policy/circuit_breaker: failures of transfers started before it opened change nothing") {
    CircuitBreaker b(small());
    for (uint64_t t : {0, 10, 20})
        b.on_failure(t);
    CHECK_FALSE(b.on_failure(30));
    CHECK(b.admit(4000) == Admission::Refuse);
    CHECK(b.admit(5020) == Admission::Probe);
}

TEST_CASE("policy/circuit_breaker: failures = 0 turns it off") {
    BreakerConfig c = small();
    c.failures = 0;
    CircuitBreaker b(c);
    for (uint64_t t = 0; t < 100; ++t)
        b.on_failure(t);
    CHECK(b.state() == BreakerState::Closed);
    CHECK(b.admit(100) == Admission::Allow);
}
