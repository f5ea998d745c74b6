// proxy/fetch/fetch_outcome.h: the states a fetch moves through, the breaker's refusal taken
// once, and the Retry-After that only a HostDown end carries.
#include "proxy/fetch/fetch_outcome.h"

#include <doctest/doctest.h>

using proxy::CacheResult;
using proxy::FetchEnd;
using proxy::FetchOutcome;
using proxy::FetchState;

TEST_CASE("proxy/fetch/fetch_outcome: starts as a miss, becomes ready with its result") {
    FetchOutcome o;
    CHECK(o.state() == FetchState::Starting);
    CHECK(o.result() == CacheResult::Miss);
    CHECK_FALSE(o.end());
    o.become_ready(CacheResult::Revalidated);
    CHECK(o.state() == FetchState::Ready);
    CHECK(o.result() == CacheResult::Revalidated);
}

TEST_CASE("proxy/fetch/fetch_outcome: a failure keeps its end across the refetch's restart") {
    FetchOutcome o;
    o.become_ready(CacheResult::Hit);
    o.fail(FetchEnd::ObjectChanged);
    CHECK(o.state() == FetchState::Failed);
    CHECK(o.end() == FetchEnd::ObjectChanged);
    o.restart();
    CHECK(o.state() == FetchState::Starting);
    CHECK(o.result() == CacheResult::Miss);
    CHECK(o.end() == FetchEnd::ObjectChanged);  // a late record job still sees it
}

TEST_CASE("proxy/fetch/fetch_outcome: the breaker's refusal is taken once") {
    FetchOutcome o;
    CHECK_FALSE(o.take_refusal());
    o.refuse_start("breaker open", 7);
    auto why = o.take_refusal();
    REQUIRE(why);
    CHECK(*why == "breaker open");
    CHECK_FALSE(o.take_refusal());
    // Not failed yet: no Retry-After for the clients.
    CHECK(o.host_down_retry_after() == 0);
    o.fail(FetchEnd::HostDown);
    CHECK(o.host_down_retry_after() == 7);
}

TEST_CASE("proxy/fetch/fetch_outcome: only a HostDown end carries a Retry-After") {
    FetchOutcome o;
    o.refuse_start("breaker open", 7);
    o.fail(FetchEnd::RetriesExhausted);
    CHECK(o.host_down_retry_after() == 0);
}

TEST_CASE("proxy/fetch/fetch_outcome: handed over") {
    FetchOutcome o;
    o.hand_over();
    CHECK(o.state() == FetchState::Handed);
    CHECK(proxy::to_string(FetchEnd::HostDown) == "origin unavailable");
    CHECK(proxy::to_string(CacheResult::PartialHit) == "PARTIAL_HIT");
}
