#include "policy/retry.h"

#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "policy/http_date.h"

using namespace policy;

namespace {

constexpr int64_t kNow = 1704067200;  // 2024-01-01T00:00:00Z
using R = RetryReason;
using K = FailureKind;

}  // namespace

TEST_CASE("policy/retry: classify failure kinds and statuses") {
    struct Row {
        K kind;
        int status;
        bool retry;
        R reason;
    };
    const Row rows[] = {
        {K::ConnectFailed, 0, true, R::Transient},
        {K::DnsFailed, 0, true, R::Transient},
        {K::Reset, 0, true, R::Transient},
        {K::EarlyEof, 0, true, R::Transient},
        {K::Stall, 0, true, R::Transient},
        {K::Timeout, 0, true, R::Transient},
        {K::Http2Stream, 0, true, R::Transient},
        {K::TlsError, 0, true, R::Transient},
        {K::TlsVerifyFailed, 0, false, R::KindNotRetryable},
        {K::ProtocolError, 0, false, R::KindNotRetryable},
        {K::Aborted, 0, false, R::KindNotRetryable},
        {K::Reset, 503, true, R::Transient},  // status ignored for non-HTTP kinds
        {K::HttpStatus, 408, true, R::Transient},
        {K::HttpStatus, 429, true, R::Transient},
        {K::HttpStatus, 502, true, R::Transient},
        {K::HttpStatus, 503, true, R::Transient},
        {K::HttpStatus, 504, true, R::Transient},
        {K::HttpStatus, 500, false, R::StatusNotRetryable},
        {K::HttpStatus, 501, false, R::StatusNotRetryable},
        {K::HttpStatus, 404, false, R::StatusNotRetryable},
        {K::HttpStatus, 403, false, R::StatusNotRetryable},
        {K::HttpStatus, 200, false, R::StatusNotRetryable},
        {K::HttpStatus, 0, false, R::StatusNotRetryable},
        {K::HttpStatus, -1, false, R::StatusNotRetryable},
    };
    RetryConfig config;
    for (const auto& row : rows) {
        INFO((std::string(to_string(row.kind)) + " " + std::to_string(row.status)));
        auto d = classify(row.kind, row.status, std::nullopt, 0, 0, config, 123, kNow);
        CHECK(d.retry == row.retry);
        CHECK(d.reason == row.reason);
        CHECK_FALSE(to_string(d.reason).empty());
        if (d.retry) CHECK(d.delay_ms <= config.base_delay_ms);
    }
}

TEST_CASE("policy/retry: backoff ceiling and full jitter") {
    RetryConfig config;  // 250 ms, x2, cap 30 s
    struct Row {
        uint32_t attempt;
        uint64_t ceiling;
    };
    const Row rows[] = {{0, 250},   {1, 500},    {2, 1000},     {3, 2000},          {6, 16000},
                        {7, 30000}, {20, 30000}, {1000, 30000}, {UINT32_MAX, 30000}};
    for (const auto& row : rows) {
        INFO(row.attempt);
        CHECK(backoff_ceiling_ms(row.attempt, config) == row.ceiling);
    }
    // The delay is random % (ceiling + 1): 0 and the ceiling itself are both reachable.
    CHECK(classify(K::Reset, 0, {}, 2, 0, config, 0, kNow).delay_ms == 0);
    CHECK(classify(K::Reset, 0, {}, 2, 0, config, 1000, kNow).delay_ms == 1000);
    CHECK(classify(K::Reset, 0, {}, 2, 0, config, 1001, kNow).delay_ms == 0);
    CHECK(classify(K::Reset, 0, {}, 2, 0, config, UINT64_MAX, kNow).delay_ms == UINT64_MAX % 1001);

    RetryConfig odd;
    odd.factor = 0.5;
    CHECK(backoff_ceiling_ms(10, odd) == 250);
    odd.factor = std::nan("");
    CHECK(backoff_ceiling_ms(10, odd) == 250);
    odd.factor = 1e308;
    CHECK(backoff_ceiling_ms(3, odd) == 30000);
    odd.max_delay_ms = UINT64_MAX;
    odd.deadline_ms = UINT64_MAX;
    CHECK(backoff_ceiling_ms(3, odd) == UINT64_MAX);
    CHECK(classify(K::Reset, 0, {}, 3, 0, odd, 77, kNow).delay_ms == 77);
    RetryConfig zero;
    zero.base_delay_ms = 0;
    CHECK(classify(K::Reset, 0, {}, 5, 0, zero, 12345, kNow).delay_ms == 0);
}

TEST_CASE("policy/retry: the first resume after a broken connection goes at once") {
    RetryConfig config;
    struct Row {
        K kind;
        uint32_t attempt;
        uint64_t delay;
    };
    // random = 200: the jittered delay is 200 wherever backoff applies.
    const Row rows[] = {{K::Reset, 0, 0},       {K::EarlyEof, 0, 0},   {K::Http2Stream, 0, 0},
                        {K::Reset, 1, 200},     {K::EarlyEof, 2, 200}, {K::ConnectFailed, 0, 200},
                        {K::DnsFailed, 0, 200}, {K::Stall, 0, 200},    {K::Timeout, 0, 200},
                        {K::TlsError, 0, 200}};
    for (const auto& row : rows) {
        INFO(to_string(row.kind), " attempt ", row.attempt);
        auto d = classify(row.kind, 0, {}, row.attempt, 0, config, 200, kNow);
        CHECK(d.retry);
        CHECK(d.reason == R::Transient);
        CHECK(d.delay_ms == row.delay);
    }
    // A 503's Retry-After is still honoured, and a status is no broken connection.
    CHECK(classify(K::HttpStatus, 503, "2", 0, 0, config, 200, kNow).delay_ms == 2000);
    CHECK(classify(K::HttpStatus, 502, {}, 0, 0, config, 200, kNow).delay_ms == 200);
}

TEST_CASE("policy/retry: attempts and deadline") {
    RetryConfig config;
    config.max_attempts = 4;
    config.deadline_ms = 10000;
    struct Row {
        uint32_t attempt;
        uint64_t elapsed_ms;
        uint64_t random;
        bool retry;
        R reason;
    };
    const Row rows[] = {
        {0, 0, 0, true, R::Transient},
        {2, 0, 0, true, R::Transient},
        {3, 0, 0, false, R::AttemptsExhausted},
        {UINT32_MAX, 0, 0, false, R::AttemptsExhausted},
        {2, 9500, 500, true, R::Transient},          // ends exactly at the deadline
        {2, 9500, 501, false, R::DeadlineExceeded},  // would end past it
        {0, 10001, 0, false, R::DeadlineExceeded},
        {0, UINT64_MAX, 250, false, R::DeadlineExceeded},
    };
    for (const auto& row : rows) {
        INFO(row.attempt << " " << row.elapsed_ms);
        auto d =
            classify(K::EarlyEof, 0, {}, row.attempt, row.elapsed_ms, config, row.random, kNow);
        CHECK(d.retry == row.retry);
        CHECK(d.reason == row.reason);
    }
    RetryConfig never;
    never.max_attempts = 0;
    CHECK(classify(K::Reset, 0, {}, 0, 0, never, 0, kNow).reason == R::AttemptsExhausted);
    never.max_attempts = 1;
    CHECK(classify(K::Reset, 0, {}, 0, 0, never, 0, kNow).reason == R::AttemptsExhausted);
}

TEST_CASE("policy/retry: Retry-After on 429 and 503") {
    RetryConfig config;  // cap 60 s
    const std::string in30s = format_http_date(kNow + 30);
    const std::string in2h = format_http_date(kNow + 7200);
    const std::string past = format_http_date(kNow - 10);
    struct Row {
        int status;
        const char* retry_after;
        bool retry;
        uint64_t delay_ms;
        R reason;
    };
    const Row rows[] = {
        {503, "5", true, 5000, R::RetryAfter},
        {429, " 60 ", true, 60000, R::RetryAfter},
        {429, "61", false, 0, R::RetryAfterTooLong},
        {503, "99999999999999999999999", false, 0, R::RetryAfterTooLong},
        {503, in30s.c_str(), true, 30000, R::RetryAfter},
        {503, in2h.c_str(), false, 0, R::RetryAfterTooLong},
        {503, past.c_str(), true, 0, R::RetryAfter},
        {503, "0", true, 0, R::RetryAfter},
        {503, "soon", true, 7, R::Transient},  // unparseable: ordinary backoff
        {503, "-5", true, 7, R::Transient},
        {503, "", true, 7, R::Transient},
        {502, "5", true, 7, R::Transient},  // only 429 and 503 honour it
        {500, "5", false, 0, R::StatusNotRetryable},
    };
    for (const auto& row : rows) {
        INFO(row.status << " " << row.retry_after);
        auto d = classify(K::HttpStatus, row.status, std::string_view(row.retry_after), 0, 0,
                          config, 7, kNow);
        CHECK(d.retry == row.retry);
        CHECK(d.reason == row.reason);
        if (d.retry) CHECK(d.delay_ms == row.delay_ms);
    }
    // Retry-After counts against the deadline too.
    config.deadline_ms = 4000;
    CHECK(classify(K::HttpStatus, 503, "5", 0, 0, config, 0, kNow).reason == R::DeadlineExceeded);
}

TEST_CASE("policy/retry: parse_retry_after_ms") {
    CHECK(parse_retry_after_ms("120", kNow) == 120000u);
    CHECK(parse_retry_after_ms("18446744073709551615", kNow) == UINT64_MAX);
    CHECK(parse_retry_after_ms("Fri, 31 Dec 9999 23:59:59 GMT", INT64_MIN) == UINT64_MAX);
    CHECK(parse_retry_after_ms("Fri, 31 Dec 9999 23:59:59 GMT", INT64_MAX) == 0u);
    CHECK(parse_retry_after_ms(format_http_date(kNow + 1), kNow) == 1000u);
    CHECK_FALSE(parse_retry_after_ms("1.5", kNow));
    CHECK_FALSE(parse_retry_after_ms("", kNow));
    CHECK_FALSE(parse_retry_after_ms("tomorrow", kNow));
}

TEST_CASE("policy/retry: gap budget") {
    RetryConfig config;  // 8 s
    CHECK_FALSE(gap_exceeded(0, 8000, config));
    CHECK_FALSE(gap_exceeded(3000, 5000, config));
    CHECK(gap_exceeded(3000, 5001, config));
    CHECK(gap_exceeded(9000, 0, config));
    CHECK(gap_exceeded(UINT64_MAX, UINT64_MAX, config));
}

TEST_CASE("policy/retry: retryable statuses") {
    for (int s : {408, 429, 502, 503, 504})
        CHECK(policy::retryable_status(s));
    for (int s : {200, 206, 400, 401, 403, 404, 416, 500, 501, 505})
        CHECK_FALSE(policy::retryable_status(s));
}
