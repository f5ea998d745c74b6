#include "policy/stale_on_error.h"

#include <doctest/doctest.h>

#include <string>

#include "policy/cache_control.h"
#include "policy/http_date.h"

using namespace policy;

namespace {

constexpr int64_t kT0 = 1'700'000'000;

// A response stored at kT0 with `cc`, fresh for its max-age.
HeaderList stored_with(const std::string& cc) {
    return {{"Date", format_http_date(kT0)}, {"Cache-Control", cc}};
}

}  // namespace

TEST_CASE("policy/stale_on_error: stale-if-error windows (RFC 5861 §4, RFC 9111 §4.2.4)") {
    struct Row {
        const char* name;
        std::string response_cc;
        HeaderList request;
        int64_t seconds_after;   // now - kT0
        StaleHostSettings host;  // {stale_if_error, stale_if_disconnected} match the host
        bool on_error;           // a 5xx may be answered stale
        bool on_no_answer;       // no answer may be
        bool at_once;
        StaleOnErrorReason reason;
    };
    using R = StaleOnErrorReason;
    const Row rows[] = {
        {"response window covers it",
         "max-age=2, stale-if-error=60",
         {},
         10,
         {false, false},
         true,
         true,
         true,
         R::ResponseDirective},
        {"response window edge (stale 58 s of 60)",
         "max-age=2, stale-if-error=60",
         {},
         60,
         {false, false},
         true,
         true,
         true,
         R::ResponseDirective},
        {"past the response window",
         "max-age=2, stale-if-error=60",
         {},
         100,
         {false, false},
         false,
         false,
         false,
         R::NotAllowed},
        {"past the window, host listed",
         "max-age=2, stale-if-error=60",
         {},
         100,
         {true, false},
         true,
         true,
         false,
         R::HostSetting},
        {"request window covers it",
         "max-age=2",
         {{"Cache-Control", "stale-if-error=30"}},
         20,
         {false, false},
         true,
         true,
         true,
         R::RequestDirective},
        {"past the request window",
         "max-age=2",
         {{"Cache-Control", "stale-if-error=5"}},
         20,
         {false, false},
         false,
         false,
         false,
         R::NotAllowed},
        {"no directive, host listed",
         "max-age=2",
         {},
         1000,
         {true, false},
         true,
         true,
         false,
         R::HostSetting},
        {"no directive, host not listed",
         "max-age=2",
         {},
         10,
         {false, false},
         false,
         false,
         false,
         R::NotAllowed},
        // RFC 9111 §4.2.4: a disconnected cache may serve stale; a 5xx is an answer.
        {"no directive, disconnected host setting",
         "max-age=2",
         {},
         100000,
         {false, true},
         false,
         true,
         false,
         R::Disconnected},
        {"stale_if_error covers disconnection too",
         "max-age=2",
         {},
         10,
         {true, true},
         true,
         true,
         false,
         R::HostSetting},
        {"a directive wins over the disconnected setting: at once",
         "max-age=2, stale-if-error=60",
         {},
         10,
         {false, true},
         true,
         true,
         true,
         R::ResponseDirective},
        {"must-revalidate wins over the disconnected setting",
         "max-age=2, must-revalidate",
         {},
         10,
         {false, true},
         false,
         false,
         false,
         R::MustRevalidate},
        // RFC 9111 §5.2.2.2, §5.2.2.8, §5.2.2.10, §5.2.2.4: never stale, directives or not.
        {"must-revalidate wins",
         "max-age=2, must-revalidate, stale-if-error=60",
         {},
         10,
         {true, false},
         false,
         false,
         false,
         R::MustRevalidate},
        {"proxy-revalidate wins",
         "max-age=2, proxy-revalidate, stale-if-error=60",
         {},
         10,
         {true, false},
         false,
         false,
         false,
         R::MustRevalidate},
        {"s-maxage wins",
         "s-maxage=2, stale-if-error=60",
         {},
         10,
         {true, false},
         false,
         false,
         false,
         R::MustRevalidate},
        {"no-cache wins",
         "max-age=100, no-cache, stale-if-error=60",
         {},
         10,
         {true, false},
         false,
         false,
         false,
         R::MustRevalidate},
        {"revalidated while fresh (request no-cache): stale by 0",
         "max-age=100, stale-if-error=0",
         {{"Cache-Control", "no-cache"}},
         10,
         {false, false},
         true,
         true,
         true,
         R::ResponseDirective},
        {"invalid argument is ignored",
         "max-age=2, stale-if-error=abc",
         {},
         10,
         {false, false},
         false,
         false,
         false,
         R::NotAllowed},
    };
    for (const auto& row : rows) {
        CAPTURE(row.name);
        auto d = stale_on_error(stored_with(row.response_cc), row.request, {kT0, kT0},
                                kT0 + row.seconds_after, row.host);
        CHECK(d.on_error == row.on_error);
        CHECK(d.on_no_answer == row.on_no_answer);
        CHECK(d.allows(RevalidationFailure::ServerError) == row.on_error);
        CHECK(d.allows(RevalidationFailure::NoAnswer) == row.on_no_answer);
        CHECK(d.at_once == row.at_once);
        CHECK(d.reason == row.reason);
    }
}

TEST_CASE("policy/stale_on_error: stale-while-revalidate windows (RFC 5861 §3)") {
    struct Row {
        const char* name;
        std::string response_cc;
        HeaderList request;
        int64_t seconds_after;  // now - kT0
        bool serve;
    };
    const Row rows[] = {
        {"fresh: no need", "max-age=100, stale-while-revalidate=60", {}, 10, false},
        {"stale within the window", "max-age=1, stale-while-revalidate=4", {}, 3, true},
        {"window edge (stale 4 s of 4)", "max-age=1, stale-while-revalidate=4", {}, 5, true},
        {"past the window", "max-age=1, stale-while-revalidate=4", {}, 6, false},
        {"no directive", "max-age=1", {}, 3, false},
        {"must-revalidate wins",
         "max-age=1, must-revalidate, stale-while-revalidate=60",
         {},
         3,
         false},
        {"s-maxage wins", "s-maxage=1, stale-while-revalidate=60", {}, 3, false},
        {"no-cache wins", "max-age=100, no-cache, stale-while-revalidate=60", {}, 3, false},
        {"request no-cache validates first",
         "max-age=1, stale-while-revalidate=60",
         {{"Cache-Control", "no-cache"}},
         3,
         false},
        {"request max-age validates first",
         "max-age=1, stale-while-revalidate=60",
         {{"Cache-Control", "max-age=1"}},
         3,
         false},
        {"invalid argument is ignored", "max-age=1, stale-while-revalidate=x", {}, 3, false},
    };
    for (const auto& row : rows) {
        CAPTURE(row.name);
        HeaderList stored = stored_with(row.response_cc);
        auto freshness =
            evaluate_freshness(stored, row.request, {kT0, kT0}, kT0 + row.seconds_after);
        CHECK(serve_while_revalidating(stored, freshness) == row.serve);
    }
}

TEST_CASE("policy/stale_on_error: RFC 5861 directives do not make freshness invalid") {
    auto cc = parse_cache_control(HeaderList{
        {"Cache-Control", "max-age=5, stale-while-revalidate=30, stale-if-error=\"60\""}});
    CHECK_FALSE(cc.invalid_freshness);
    CHECK(cc.stale_while_revalidate == 30u);
    CHECK(cc.stale_if_error == 60u);
    auto bad = parse_cache_control(HeaderList{{"Cache-Control", "max-age=5, stale-if-error=x"}});
    CHECK_FALSE(bad.invalid_freshness);
    CHECK_FALSE(bad.stale_if_error);
    CHECK(bad.max_age == 5u);
}
