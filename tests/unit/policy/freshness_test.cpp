#include "policy/freshness.h"

#include <doctest/doctest.h>

#include "policy/cache_control.h"
#include "policy/http_date.h"

using namespace policy;

namespace {

// 2024-01-01T00:00:00Z and IMF-fixdates around it.
constexpr int64_t kT0 = 1704067200;
std::string at(int64_t offset) {
    return format_http_date(kT0 + offset);
}

}  // namespace

TEST_CASE("policy/freshness: freshness_lifetime") {
    struct Row {
        const char* name;
        HeaderList h;
        int64_t expected;
    };
    const Row rows[] = {
        {"nothing", {{"Date", at(0)}}, 0},
        {"max-age", {{"Cache-Control", "max-age=60"}, {"Date", at(0)}}, 60},
        {"s-maxage wins", {{"Cache-Control", "max-age=60, s-maxage=5"}}, 5},
        {"max-age beats Expires",
         {{"Cache-Control", "max-age=60"}, {"Expires", at(600)}, {"Date", at(0)}},
         60},
        {"Expires - Date", {{"Expires", at(600)}, {"Date", at(0)}}, 600},
        {"Expires before Date", {{"Expires", at(-600)}, {"Date", at(0)}}, 0},
        {"Expires 0", {{"Expires", "0"}, {"Date", at(0)}, {"Last-Modified", at(-100000)}}, 0},
        {"Expires without Date", {{"Expires", at(600)}}, 0},
        {"two equal Expires", {{"Expires", at(600)}, {"Expires", at(600)}, {"Date", at(0)}}, 600},
        {"two different Expires", {{"Expires", at(600)}, {"Expires", at(700)}, {"Date", at(0)}}, 0},
        {"heuristic 10%", {{"Date", at(0)}, {"Last-Modified", at(-10000)}}, 1000},
        {"heuristic capped", {{"Date", at(0)}, {"Last-Modified", at(-86400 * 365)}}, 86400},
        {"heuristic, Last-Modified in the future", {{"Date", at(0)}, {"Last-Modified", at(50)}}, 0},
        {"heuristic needs Date", {{"Last-Modified", at(-10000)}}, 0},
        {"invalid max-age",
         {{"Cache-Control", "max-age=abc"}, {"Expires", at(600)}, {"Date", at(0)}},
         0},
        {"conflicting max-age", {{"Cache-Control", "max-age=1, max-age=2"}}, 0},
        {"max-age saturates", {{"Cache-Control", "max-age=99999999999999999999"}}, 2147483648},
        {"max-age=0",
         {{"Cache-Control", "max-age=0"}, {"Last-Modified", at(-10000)}, {"Date", at(0)}},
         0},
        {"huge Expires span",
         {{"Expires", "Fri, 31 Dec 9999 23:59:59 GMT"}, {"Date", "Sat, 01 Jan 0000 00:00:00 GMT"}},
         253402300799 + 62167219200},
    };
    for (const auto& row : rows) {
        INFO(std::string(row.name));
        CHECK(freshness_lifetime(row.h) == row.expected);
    }
}

TEST_CASE("policy/freshness: current_age (RFC 9111 §4.2.3)") {
    struct Row {
        const char* name;
        HeaderList h;
        int64_t request_time, response_time, now;
        int64_t expected;
    };
    const int64_t t = kT0;
    const Row rows[] = {
        {"just received", {{"Date", at(0)}}, t, t, t, 0},
        {"resident time", {{"Date", at(0)}}, t, t, t + 100, 100},
        {"Age header plus delay", {{"Date", at(0)}, {"Age", "30"}}, t - 2, t, t + 10, 42},
        {"apparent age from an old Date", {{"Date", at(-50)}, {"Age", "10"}}, t, t, t, 50},
        {"Date in the future", {{"Date", at(500)}}, t, t, t + 5, 5},
        {"no Date", {}, t, t, t + 7, 7},
        {"now before response_time", {{"Date", at(0)}}, t, t, t - 100, 0},
        // RFC 9111 §5.1: an invalid Age is ignored; a list counts by its first member.
        {"malformed Age is ignored", {{"Date", at(0)}, {"Age", "abc"}}, t, t, t, 0},
        {"negative Age is ignored", {{"Date", at(0)}, {"Age", "-5"}}, t, t, t, 0},
        {"fractional Age is ignored", {{"Date", at(0)}, {"Age", "7200.0"}}, t, t, t, 0},
        {"Age list: first member", {{"Date", at(0)}, {"Age", "7200, 0"}}, t, t, t, 7200},
        {"Age list: first member 0", {{"Date", at(0)}, {"Age", "0, 7200"}}, t, t, t, 0},
        {"Age lines: first line", {{"Date", at(0)}, {"Age", "7200"}, {"Age", "0"}}, t, t, t, 7200},
        {"Age list, invalid first member", {{"Date", at(0)}, {"Age", "x, 7200"}}, t, t, t, 0},
        {"huge Age saturates",
         {{"Date", at(0)}, {"Age", "99999999999999999999999"}},
         t,
         t,
         t,
         2147483648},
        {"extreme now", {{"Date", at(0)}, {"Age", "5"}}, t, t, INT64_MAX, INT64_MAX - t + 5},
        {"extreme now saturates", {{"Age", "5"}}, -20, -10, INT64_MAX, INT64_MAX},
        {"extreme past", {}, INT64_MIN, INT64_MAX, INT64_MAX, INT64_MAX},
    };
    for (const auto& row : rows) {
        INFO(std::string(row.name));
        CHECK(current_age(row.h, row.request_time, row.response_time, row.now) == row.expected);
    }
}

TEST_CASE("policy/freshness: add_date_if_missing") {
    HeaderList h;
    add_date_if_missing(h, 784111777);
    REQUIRE(h.size() == 1);
    CHECK(h[0].value == "Sun, 06 Nov 1994 08:49:37 GMT");
    add_date_if_missing(h, 0);
    CHECK(h.size() == 1);
}

TEST_CASE("policy/freshness: evaluate_freshness") {
    using F = Freshness;
    using R = FreshnessReason;
    struct Row {
        const char* name;
        std::string stored_cc;
        std::string request_cc;  // empty: no Cache-Control field
        int64_t age;             // now - response_time; the stored Date equals response_time
        F state;
        R reason;
    };
    const Row rows[] = {
        {"fresh", "max-age=100", "", 10, F::Fresh, R::Fresh},
        {"expired", "max-age=100", "", 100, F::Stale, R::Expired},
        {"expired, must-revalidate", "max-age=100, must-revalidate", "", 150,
         F::StaleMustRevalidate, R::Expired},
        {"expired, proxy-revalidate", "max-age=100, proxy-revalidate", "", 150,
         F::StaleMustRevalidate, R::Expired},
        {"expired, s-maxage", "s-maxage=100", "", 150, F::StaleMustRevalidate, R::Expired},
        {"no explicit lifetime", "", "", 0, F::Stale, R::Expired},
        {"response no-cache, fresh", "max-age=100, no-cache", "", 0, F::StaleMustRevalidate,
         R::ResponseNoCache},
        {"qualified no-cache is unqualified", "max-age=100, no-cache=\"X\"", "", 0,
         F::StaleMustRevalidate, R::ResponseNoCache},
        {"request no-cache, fresh", "max-age=100", "no-cache", 10, F::Stale, R::RequestNoCache},
        {"request no-cache, stale must-revalidate", "max-age=100, must-revalidate", "no-cache", 200,
         F::StaleMustRevalidate, R::RequestNoCache},
        {"request max-age=0 at age 0", "max-age=100", "max-age=0", 0, F::Fresh, R::Fresh},
        {"request max-age=0", "max-age=100", "max-age=0", 1, F::Stale, R::RequestMaxAge},
        {"request max-age ok", "max-age=100", "max-age=50", 50, F::Fresh, R::Fresh},
        {"request max-age exceeded", "max-age=100", "max-age=50", 51, F::Stale, R::RequestMaxAge},
        {"request min-fresh ok", "max-age=100", "min-fresh=20", 80, F::Fresh, R::Fresh},
        {"request min-fresh unmet", "max-age=100", "min-fresh=20", 81, F::Stale,
         R::RequestMinFresh},
        {"request max-stale ok", "max-age=100", "max-stale=50", 150, F::Fresh, R::WithinMaxStale},
        {"request max-stale exceeded", "max-age=100", "max-stale=50", 151, F::Stale, R::Expired},
        {"request max-stale any", "max-age=100", "max-stale", 100000, F::Fresh, R::WithinMaxStale},
        {"max-stale vs must-revalidate", "max-age=100, must-revalidate", "max-stale", 150,
         F::StaleMustRevalidate, R::Expired},
        {"max-stale vs response no-cache", "max-age=100, no-cache", "max-stale", 150,
         F::StaleMustRevalidate, R::ResponseNoCache},
        {"request garbage max-age", "max-age=100", "max-age=x", 10, F::Stale, R::RequestInvalid},
        {"invalid response freshness", "max-age=1, max-age=1000", "", 10, F::Stale, R::Expired},
        {"immutable ignores reload", "max-age=100, immutable", "no-cache", 10, F::Fresh,
         R::ImmutableFresh},
        {"immutable but expired", "max-age=100, immutable", "no-cache", 100, F::Stale,
         R::RequestNoCache},
        {"unknown request directives", "max-age=100", "foo, bar=\"x\"", 10, F::Fresh, R::Fresh},
    };
    const int64_t response_time = kT0;
    for (const auto& row : rows) {
        INFO(std::string(row.name));
        HeaderList stored = {{"Date", at(0)}};
        if (!row.stored_cc.empty()) stored.push_back({"Cache-Control", row.stored_cc});
        HeaderList request;
        if (!row.request_cc.empty()) request.push_back({"Cache-Control", row.request_cc});
        auto d = evaluate_freshness(stored, request, {response_time, response_time},
                                    response_time + row.age);
        CHECK(d.state == row.state);
        CHECK(d.reason == row.reason);
        CHECK(d.age == row.age);
        CHECK_FALSE(to_string(d.reason).empty());
    }
}

TEST_CASE("policy/freshness: Pragma no-cache only without Cache-Control") {
    HeaderList stored = {{"Date", at(0)}, {"Cache-Control", "max-age=100"}};
    auto pragma = evaluate_freshness(stored, {{"Pragma", "no-cache"}}, {kT0, kT0}, kT0);
    CHECK(pragma.reason == FreshnessReason::RequestNoCache);
    auto both = evaluate_freshness(
        stored, {{"Pragma", "no-cache"}, {"Cache-Control", "max-age=10"}}, {kT0, kT0}, kT0);
    CHECK(both.reason == FreshnessReason::Fresh);
}
