// HTTP-date (RFC 9110 §5.6.7): parsing all three formats and formatting IMF-fixdate.
//
// Times are int64_t seconds since 1970-01-01T00:00:00Z (Unix time, no leap seconds). The calendar
// arithmetic is our own (proleptic Gregorian, days-from-civil as in Howard Hinnant's
// date algorithms): no strptime, timegm, tz database or locale is consulted, so the result does
// not depend on the process's TZ or LC_TIME and the code is safe on any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "policy/result.h"

namespace policy {

enum class DateErrc {
    Empty,
    BadFormat,  // matches none of IMF-fixdate, RFC 850 or asctime
    BadField,   // right shape, impossible value (month "Foo", 31 Feb, hour 24, ...)
};

std::string_view to_string(DateErrc e);

// Parses, after trimming optional whitespace:
//   IMF-fixdate  "Sun, 06 Nov 1994 08:49:37 GMT"
//   RFC 850      "Sunday, 06-Nov-94 08:49:37 GMT"   (obsolete)
//   asctime      "Sun Nov  6 08:49:37 1994"         (obsolete)
// Day and month names compare case-insensitively; the day name must be a real one but is not
// checked against the date (senders get it wrong, the date is what matters). A second of 60 (a
// leap second) is accepted and counts as the first second of the next minute.
//
// Two-digit RFC 850 years are read as 1970–2069 (00–69 → 20xx). RFC 9110 asks for "no more than
// 50 years in the future" relative to the current date; that needs a clock, and a fixed pivot
// gives the same answer for every date still plausibly in circulation.
Result<int64_t, DateErrc> parse_http_date(std::string_view text);

// IMF-fixdate, e.g. 784111777 → "Sun, 06 Nov 1994 08:49:37 GMT". Times outside years 0000–9999
// are clamped to that range so the output always has the fixed length.
std::string format_http_date(int64_t seconds);

namespace detail {

// Days since 1970-01-01 of the proleptic Gregorian date y-m-d (m 1–12, d 1–31).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d);

struct CivilDate {
    int64_t year;
    unsigned month;  // 1–12
    unsigned day;    // 1–31
};
CivilDate civil_from_days(int64_t days);

unsigned days_in_month(int64_t year, unsigned month);

}  // namespace detail

}  // namespace policy
