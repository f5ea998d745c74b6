// Retry policy for upstream transfers: which failures are worth another attempt, and after how
// long (DESIGN.md, "Resume"). What the next attempt asks for is resume.h.
//
// Backoff is exponential with full jitter (the AWS Architecture Blog's "Exponential Backoff And
// Jitter"): the delay before retry n is uniform in [0, min(max_delay, base * factor^n)] -- except
// the first retry after a connection broke mid-transfer (Reset, EarlyEof, Http2Stream at
// attempt 0), which goes at once. The
// randomness is a parameter, so every schedule is a deterministic table test; the caller passes
// a fresh 64-bit random number for each decision.
//
// Units: milliseconds for durations, seconds since the Unix epoch for `now` (only used to turn a
// Retry-After HTTP-date into a delay).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace policy {

// How a transfer failed. The curl codes a caller would map are given as a guide.
enum class FailureKind {
    ConnectFailed,    // CURLE_COULDNT_CONNECT
    DnsFailed,        // CURLE_COULDNT_RESOLVE_HOST: often a resolver hiccup, so retried
    Reset,            // CURLE_RECV_ERROR / CURLE_SEND_ERROR: connection reset mid-transfer
    EarlyEof,         // CURLE_PARTIAL_FILE: closed before Content-Length bytes arrived
    Stall,            // no bytes for the stall timeout (our own timer)
    Timeout,          // CURLE_OPERATION_TIMEDOUT
    Http2Stream,      // CURLE_HTTP2 / CURLE_HTTP2_STREAM: stream reset by the peer
    TlsError,         // CURLE_SSL_CONNECT_ERROR: handshake cut short
    HttpStatus,       // the origin answered with an error status; see http_status
    TlsVerifyFailed,  // CURLE_PEER_FAILED_VERIFICATION: a wrong certificate stays wrong
    ProtocolError,    // CURLE_WEIRD_SERVER_REPLY and friends: not HTTP as we know it
    Aborted,          // ended on our side (shutdown, disk full, write error): not the origin's
};

std::string_view to_string(FailureKind k);

struct RetryConfig {
    uint64_t base_delay_ms = 250;
    double factor = 2.0;  // values below 1 (or NaN) are treated as 1: no growth
    uint64_t max_delay_ms = 30000;
    uint32_t max_attempts = 20;           // transfers in total, the first one included
    uint64_t deadline_ms = 600000;        // give up once this much time has passed since the first
    uint64_t retry_after_cap_ms = 60000;  // a longer Retry-After means give up, not wait
    uint64_t gap_budget_ms = 8000;        // how long a client may wait in silence (gap_exceeded)
};

enum class RetryReason {
    Transient,           // retry after a jittered backoff
    RetryAfter,          // retry after the origin's Retry-After
    KindNotRetryable,    // TlsVerifyFailed, ProtocolError, Aborted
    StatusNotRetryable,  // an HTTP status other than 408, 429, 502, 503, 504
    AttemptsExhausted,
    DeadlineExceeded,   // the delay would end past the deadline
    RetryAfterTooLong,  // Retry-After beyond retry_after_cap_ms
};

std::string_view to_string(RetryReason r);

// 408, 429, 502, 503, 504: statuses worth another try (classify() decides when and whether).
bool retryable_status(int status);

struct RetryDecision {
    bool retry = false;
    uint64_t delay_ms = 0;  // meaningful when retry
    RetryReason reason = RetryReason::KindNotRetryable;
};

// Decides what follows a failed attempt.
//   `http_status`   the status for FailureKind::HttpStatus, ignored otherwise;
//   `retry_after`   the Retry-After field value, if the response had one (honoured on 429 and
//                   503 only: delta-seconds or an HTTP-date, relative to `now`);
//   `attempt`       0-based number of the attempt that just failed (0: the first transfer);
//   `elapsed_ms`    time since the first attempt started;
//   `random`        a uniformly distributed 64-bit number, for the jitter.
// Retryable: connection-level kinds (ConnectFailed ... TlsError) and statuses 408, 429, 502,
// 503, 504. Everything else, including 500 and 501, is final.
RetryDecision classify(FailureKind kind, int http_status,
                       std::optional<std::string_view> retry_after, uint32_t attempt,
                       uint64_t elapsed_ms, const RetryConfig& config, uint64_t random,
                       int64_t now);

// min(max_delay_ms, base_delay_ms * factor^attempt), the upper bound of the jittered delay.
uint64_t backoff_ceiling_ms(uint32_t attempt, const RetryConfig& config);

// A Retry-After field value (RFC 9110 §10.2.3) as a delay: delta-seconds, or an HTTP-date minus
// `now` (0 when already past). nullopt for anything else. Saturates rather than overflows.
std::optional<uint64_t> parse_retry_after_ms(std::string_view value, int64_t now);

// True when clients already `silent_ms` without a byte would have to wait `planned_delay_ms`
// more, past the gap budget: close them short now and let their own retry come back to the
// cache, while the fill keeps retrying in the background.
bool gap_exceeded(uint64_t silent_ms, uint64_t planned_delay_ms, const RetryConfig& config);

}  // namespace policy
