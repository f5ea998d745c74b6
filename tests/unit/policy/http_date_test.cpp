#include "policy/http_date.h"

#include <doctest/doctest.h>

using namespace policy;

TEST_CASE("policy/http_date: the three formats") {
    struct Row {
        const char* in;
        int64_t expected;
    };
    const Row rows[] = {
        {"Sun, 06 Nov 1994 08:49:37 GMT", 784111777},
        {"Sunday, 06-Nov-94 08:49:37 GMT", 784111777},
        {"Sun Nov  6 08:49:37 1994", 784111777},
        {"Sun Nov 06 08:49:37 1994", 784111777},
        {"  Sun, 06 Nov 1994 08:49:37 GMT\t", 784111777},
        {"sun, 06 nov 1994 08:49:37 GMT", 784111777},
        {"Thu, 01 Jan 1970 00:00:00 GMT", 0},
        {"Wed, 31 Dec 1969 23:59:59 GMT", -1},
        {"Tue, 29 Feb 2000 12:00:00 GMT", 951825600},
        {"Thu, 29 Feb 2024 00:00:00 GMT", 1709164800},
        {"Tue, 19 Jan 2038 03:14:08 GMT", 2147483648},
        {"Fri, 31 Dec 9999 23:59:59 GMT", 253402300799},
        {"Sat, 01 Jan 0000 00:00:00 GMT", -62167219200},
        {"Sat, 31 Dec 2016 23:59:60 GMT", 1483228800},  // leap second
        {"Thursday, 01-Jan-70 00:00:00 GMT", 0},
        {"Tuesday, 01-Jan-69 00:00:00 GMT", 3124224000},  // two-digit 69 → 2069
        // The day name is not checked against the date: 1994-11-06 was a Sunday.
        {"Mon, 06 Nov 1994 08:49:37 GMT", 784111777},
    };
    for (const auto& row : rows) {
        INFO(std::string(row.in));
        auto t = parse_http_date(row.in);
        REQUIRE(t);
        CHECK(*t == row.expected);
    }
}

TEST_CASE("policy/http_date: garbage and impossible dates") {
    struct Row {
        const char* in;
        DateErrc expected;
    };
    const Row rows[] = {
        {"", DateErrc::Empty},
        {" ", DateErrc::Empty},
        {"0", DateErrc::BadFormat},
        {"-1", DateErrc::BadFormat},
        {"Sun, 06 Nov 1994 08:49:37", DateErrc::BadFormat},
        {"Sun, 06 Nov 1994 08:49:37 UTC", DateErrc::BadFormat},
        {"Sun, 06 Nov 1994 08:49:37 GMT+1", DateErrc::BadFormat},
        {"Sun, 6 Nov 1994 08:49:37 GMT", DateErrc::BadFormat},
        {"Sun, 06 Nov 94 08:49:37 GMT", DateErrc::BadFormat},
        {"Sun, 06 Nov 1994 8:49:37 GMT", DateErrc::BadFormat},
        {"Sun,06 Nov 1994 08:49:37 GMT", DateErrc::BadFormat},
        {"Sun, 06 Nov 1994 08:49:37 GMTX", DateErrc::BadFormat},
        {"Sunday, 06-Nov-1994 08:49:37 GMT", DateErrc::BadFormat},
        {"Sun Nov 6 08:49:37 1994", DateErrc::BadFormat},
        {"Sun Nov  6 08:49:37 94", DateErrc::BadFormat},
        {"2024-01-01T00:00:00Z", DateErrc::BadFormat},
        {"Sun, 99 Nov 1994 08:49:37 GMT", DateErrc::BadField},
        {"Sun, 00 Nov 1994 08:49:37 GMT", DateErrc::BadField},
        {"Sun, 31 Nov 1994 08:49:37 GMT", DateErrc::BadField},
        {"Mon, 29 Feb 1900 00:00:00 GMT", DateErrc::BadField},
        {"Sun, 29 Feb 2023 00:00:00 GMT", DateErrc::BadField},
        {"Sun, 06 Foo 1994 08:49:37 GMT", DateErrc::BadField},
        {"Sun, 06 November 1994 08:49:37 GMT", DateErrc::BadField},
        {"Xyz, 06 Nov 1994 08:49:37 GMT", DateErrc::BadField},
        {"Sunnyday, 06-Nov-94 08:49:37 GMT", DateErrc::BadField},
        {"Sun, 06 Nov 1994 24:00:00 GMT", DateErrc::BadField},
        {"Sun, 06 Nov 1994 23:60:00 GMT", DateErrc::BadField},
        {"Sun, 06 Nov 1994 23:59:61 GMT", DateErrc::BadField},
    };
    for (const auto& row : rows) {
        INFO(std::string(row.in));
        auto t = parse_http_date(row.in);
        REQUIRE_FALSE(t);
        CHECK(t.error() == row.expected);
        CHECK_FALSE(to_string(t.error()).empty());
    }
}

TEST_CASE("policy/http_date: format IMF-fixdate and round-trip") {
    struct Row {
        int64_t t;
        const char* expected;
    };
    const Row rows[] = {
        {784111777, "Sun, 06 Nov 1994 08:49:37 GMT"},
        {0, "Thu, 01 Jan 1970 00:00:00 GMT"},
        {-1, "Wed, 31 Dec 1969 23:59:59 GMT"},
        {951825600, "Tue, 29 Feb 2000 12:00:00 GMT"},
        {253402300799, "Fri, 31 Dec 9999 23:59:59 GMT"},
        {INT64_MAX, "Fri, 31 Dec 9999 23:59:59 GMT"},
        {INT64_MIN, "Sat, 01 Jan 0000 00:00:00 GMT"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.t);
        CHECK(format_http_date(row.t) == row.expected);
    }
    // Every day across a few leap cycles, at an awkward second, round-trips.
    for (int64_t t = -86400LL * 800 + 3599; t < 86400LL * 366 * 60; t += 86400 * 7 + 1) {
        auto back = parse_http_date(format_http_date(t));
        REQUIRE(back);
        CHECK(*back == t);
    }
}

TEST_CASE("policy/http_date: calendar helpers") {
    using namespace policy::detail;
    CHECK(days_from_civil(1970, 1, 1) == 0);
    CHECK(days_from_civil(2000, 3, 1) == 11017);
    CHECK(days_from_civil(1969, 12, 31) == -1);
    for (int64_t d = -800000; d < 800000; d += 997) {
        auto c = civil_from_days(d);
        CHECK(days_from_civil(c.year, c.month, c.day) == d);
    }
    CHECK(days_in_month(2000, 2) == 29);
    CHECK(days_in_month(1900, 2) == 28);
    CHECK(days_in_month(2024, 4) == 30);
    CHECK(days_in_month(2024, 0) == 0);
    CHECK(days_in_month(2024, 13) == 0);
}
