// proxy/upstream/retry_clock.h: an outage counts from its first failure and ends with the first
// bytes after it; a series begins with a start outside an outage, an adoption, a recovery or a
// reset; silence counts from the last time the origin was heard.
#include "proxy/upstream/retry_clock.h"

#include <doctest/doctest.h>

using proxy::RetryClock;

TEST_CASE("proxy/upstream/retry_clock: an outage counts from its first failure") {
    RetryClock c;
    c.start(100);
    c.heard(150);
    c.failed(200);
    c.retry();
    CHECK(c.attempt() == 1);
    CHECK(c.in_outage());
    c.failed(900);  // a second failure in the same outage: still counted from 200
    c.retry();
    CHECK(c.attempt() == 2);
    CHECK(c.outage_ms(1000) == 800);
    CHECK(c.series_ms(1000) == 900);
    CHECK(c.silent_ms(1000) == 850);
}

TEST_CASE("proxy/upstream/retry_clock: a start inside an outage keeps its series") {
    RetryClock c;
    c.start(100);
    c.failed(200);
    c.retry();
    c.start(500);  // the owner re-planned during the outage: not a recovery
    CHECK(c.attempt() == 1);
    CHECK(c.series_ms(600) == 500);
}

TEST_CASE("proxy/upstream/retry_clock: bytes after an outage end it and begin a series") {
    RetryClock c;
    c.start(0);
    c.failed(1000);
    c.retry();
    c.retry();
    CHECK(c.recovered(4000) == 3000);
    CHECK(c.attempt() == 0);
    CHECK_FALSE(c.in_outage());
    CHECK(c.series_ms(4500) == 500);
    c.failed(5000);  // the next outage counts from its own first failure
    CHECK(c.outage_ms(5100) == 100);
}

TEST_CASE("proxy/upstream/retry_clock: the owner's reset and an adoption") {
    RetryClock c;
    c.start(0);
    c.failed(10);
    c.retry();
    c.reset(50);
    CHECK(c.attempt() == 0);
    CHECK(c.series_ms(60) == 10);
    c.adopt(70);
    CHECK(c.series_ms(80) == 10);
    CHECK(c.silent_ms(80) == 10);
}
