#include "policy/http_date.h"

#include <algorithm>
#include <array>
#include <optional>

#include "policy/header_list.h"
#include "policy/text.h"

namespace policy {

namespace {

constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<std::string_view, 7> kDays = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<std::string_view, 7> kLongDays = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                       "Thursday", "Friday", "Saturday"};

// Year 0000-01-01T00:00:00 and 9999-12-31T23:59:59, the range IMF-fixdate can write.
constexpr int64_t kMinSeconds = -62167219200;
constexpr int64_t kMaxSeconds = 253402300799;

// A cursor over the text; every take_* either consumes exactly what it asks for or fails.
struct Cursor {
    std::string_view s;

    bool literal(std::string_view lit) {
        if (s.substr(0, lit.size()) != lit) return false;
        s.remove_prefix(lit.size());
        return true;
    }
    std::optional<unsigned> digits(size_t n) {
        if (s.size() < n) return std::nullopt;
        unsigned v = 0;
        for (size_t i = 0; i < n; ++i) {
            if (!detail::is_digit(s[i])) return std::nullopt;
            v = v * 10 + static_cast<unsigned>(s[i] - '0');
        }
        s.remove_prefix(n);
        return v;
    }
    std::optional<std::string_view> letters() {
        size_t n = 0;
        while (n < s.size() && ((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z')))
            ++n;
        if (n == 0) return std::nullopt;
        std::string_view out = s.substr(0, n);
        s.remove_prefix(n);
        return out;
    }
};

template <size_t N>
bool one_of(std::string_view name, const std::array<std::string_view, N>& names) {
    return std::any_of(names.begin(), names.end(),
                       [&](std::string_view n) { return iequals(n, name); });
}

std::optional<unsigned> month_number(std::string_view name) {
    for (size_t i = 0; i < kMonths.size(); ++i)
        if (iequals(kMonths[i], name)) return static_cast<unsigned>(i + 1);
    return std::nullopt;
}

struct Fields {
    int64_t year = 0;
    std::string_view month;
    unsigned day = 0, hour = 0, minute = 0, second = 0;
};

// time-of-day = hour ":" minute ":" second
bool take_time(Cursor& c, Fields& f) {
    auto h = c.digits(2);
    if (!h || !c.literal(":")) return false;
    auto m = c.digits(2);
    if (!m || !c.literal(":")) return false;
    auto s = c.digits(2);
    if (!s) return false;
    f.hour = *h, f.minute = *m, f.second = *s;
    return true;
}

// "Sun, 06 Nov 1994 08:49:37 GMT" after the day name and comma.
bool take_imf(Cursor& c, Fields& f) {
    if (!c.literal(" ")) return false;
    auto day = c.digits(2);
    if (!day || !c.literal(" ")) return false;
    auto month = c.letters();
    if (!month || !c.literal(" ")) return false;
    auto year = c.digits(4);
    if (!year || !c.literal(" ") || !take_time(c, f) || !c.literal(" GMT")) return false;
    f.day = *day, f.month = *month, f.year = *year;
    return c.s.empty();
}

// "Sunday, 06-Nov-94 08:49:37 GMT" after the day name and comma.
bool take_rfc850(Cursor& c, Fields& f) {
    if (!c.literal(" ")) return false;
    auto day = c.digits(2);
    if (!day || !c.literal("-")) return false;
    auto month = c.letters();
    if (!month || !c.literal("-")) return false;
    auto year = c.digits(2);
    if (!year || !c.literal(" ") || !take_time(c, f) || !c.literal(" GMT")) return false;
    f.day = *day, f.month = *month;
    f.year = *year < 70 ? 2000 + *year : 1900 + *year;
    return c.s.empty();
}

// "Sun Nov  6 08:49:37 1994" after the day name.
bool take_asctime(Cursor& c, Fields& f) {
    if (!c.literal(" ")) return false;
    auto month = c.letters();
    if (!month || !c.literal(" ")) return false;
    std::optional<unsigned> day = c.literal(" ") ? c.digits(1) : c.digits(2);
    if (!day || !c.literal(" ") || !take_time(c, f) || !c.literal(" ")) return false;
    auto year = c.digits(4);
    if (!year) return false;
    f.day = *day, f.month = *month, f.year = *year;
    return c.s.empty();
}

}  // namespace

std::string_view to_string(DateErrc e) {
    switch (e) {
        case DateErrc::Empty:
            return "empty date";
        case DateErrc::BadFormat:
            return "not an HTTP-date";
        case DateErrc::BadField:
            return "HTTP-date with an impossible field";
    }
    return "bad date";
}

Result<int64_t, DateErrc> parse_http_date(std::string_view text) {
    text = trim_ows(text);
    if (text.empty()) return fail(DateErrc::Empty);
    Cursor c{text};
    auto day_name = c.letters();
    if (!day_name) return fail(DateErrc::BadFormat);
    Fields f;
    bool shaped = false;
    bool known_day = false;
    if (c.literal(",")) {
        if (day_name->size() == 3) {
            shaped = take_imf(c, f);
            known_day = one_of(*day_name, kDays);
        } else {
            shaped = take_rfc850(c, f);
            known_day = one_of(*day_name, kLongDays);
        }
    } else if (day_name->size() == 3) {
        shaped = take_asctime(c, f);
        known_day = one_of(*day_name, kDays);
    }
    if (!shaped) return fail(DateErrc::BadFormat);
    auto month = month_number(f.month);
    if (!known_day || !month) return fail(DateErrc::BadField);
    if (f.day < 1 || f.day > detail::days_in_month(f.year, *month) || f.hour > 23 ||
        f.minute > 59 || f.second > 60)
        return fail(DateErrc::BadField);
    int64_t days = detail::days_from_civil(f.year, *month, f.day);
    return days * 86400 + f.hour * 3600 + f.minute * 60 + f.second;
}

std::string format_http_date(int64_t seconds) {
    seconds = std::clamp(seconds, kMinSeconds, kMaxSeconds);
    // Floor division: times before 1970 still land on the right day.
    int64_t days = seconds / 86400;
    int64_t rem = seconds % 86400;
    if (rem < 0) rem += 86400, --days;
    auto date = detail::civil_from_days(days);
    int64_t weekday = (days % 7 + 11) % 7;  // 1970-01-01 was a Thursday (4)
    auto two = [](std::string& out, int64_t v) {
        out.push_back(static_cast<char>('0' + v / 10));
        out.push_back(static_cast<char>('0' + v % 10));
    };
    std::string out;
    out.reserve(29);
    out.append(kDays[static_cast<size_t>(weekday)]).append(", ");
    two(out, date.day);
    out.append(" ").append(kMonths[date.month - 1]).append(" ");
    two(out, date.year / 100);
    two(out, date.year % 100);
    out.append(" ");
    two(out, rem / 3600);
    out.append(":");
    two(out, rem / 60 % 60);
    out.append(":");
    two(out, rem % 60);
    out.append(" GMT");
    return out;
}

namespace detail {

// Howard Hinnant, "chrono-Compatible Low-Level Date Algorithms": eras of 400 years (146097 days)
// starting on 0000-03-01, so the leap day falls at the end of each computed year.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);                 // [0, 399]
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;  // [0, 365]
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;            // [0, 146096]
    return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

CivilDate civil_from_days(int64_t z) {
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);                    // [0, 146096]
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                // [0, 365]
    const unsigned mp = (5 * doy + 2) / 153;                                     // [0, 11]
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;                             // [1, 31]
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;                                // [1, 12]
    const int64_t y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2);
    return CivilDate{y, m, d};
}

unsigned days_in_month(int64_t year, unsigned month) {
    static constexpr std::array<unsigned, 12> kDaysIn = {31, 28, 31, 30, 31, 30,
                                                         31, 31, 30, 31, 30, 31};
    if (month < 1 || month > 12) return 0;
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : kDaysIn[month - 1];
}

}  // namespace detail

}  // namespace policy
