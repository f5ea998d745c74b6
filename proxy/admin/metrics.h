// Metrics: dlproxy's process-wide counters, gauges and histogram, rendered in the Prometheus text
// exposition format (version 0.0.4) by `GET /metrics` on the admin endpoint.
//
// Use from the request path:
//
//     proxy::Metrics& m = proxy::metrics();           // the process-wide instance
//     m.requests(proxy::RequestResult::Hit).inc();    // one per finished client transaction
//     m.bytes_from_cache.add(n);                      // body bytes, as they are sent/received
//     m.client_connections.inc(); ... .dec();         // gauges go both ways, or set(v)
//     m.recovery_seconds.observe(2.5);                // one per recovered transfer, in seconds
//
// Threads: every instrument is a relaxed atomic, so any thread may update any of them (the cache
// writer may count checksum failures, for instance) without a lock. Rendering reads each value
// once; a render concurrent with updates may show a histogram whose _count and _sum come from
// slightly different moments, which Prometheus tolerates. Nothing here allocates after
// construction except render_prometheus().
//
// Names: every metric is prefixed `dlproxy_`; counters end in `_total`, byte counts are in bytes,
// durations in seconds (Prometheus naming conventions). docs/metrics.md lists them all.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

// The request path records what the status page shows next to the counters: recovery events
// and finished downloads (status_events()); one include for both instruments.
#include "proxy/admin/status_events.h"

namespace proxy {

// The outcome of one client transaction, as the access log writes it (`result=`).
enum class RequestResult : uint8_t {
    Hit,          // served entirely from the cache
    Miss,         // fetched from the origin (and cached)
    PartialHit,   // part from the cache, the rest fetched
    Revalidated,  // a 304 from the origin confirmed the stored response
    Pass,         // forwarded without caching
    Tunnel,       // CONNECT
    Error,        // answered by dlproxy with an error status
    Aborted,      // the client or the origin went away mid-body
    Denied,       // refused by the allow list
    Intercept,    // a CONNECT answered as a TLS server (its requests count on their own)
};
inline constexpr size_t kRequestResultCount = 10;

// "HIT", "MISS", "PARTIAL_HIT", "REVALIDATED", "PASS", "TUNNEL", "ERROR", "ABORTED", "DENIED",
// "INTERCEPT".
std::string_view to_string(RequestResult r);
// The inverse of to_string (exact, upper case), e.g. for an access-log word; nullopt otherwise.
std::optional<RequestResult> request_result_from_string(std::string_view word);

// A monotonically increasing count.
class Counter {
  public:
    void inc() { add(1); }
    void add(uint64_t n) { value_.fetch_add(n, std::memory_order_relaxed); }
    uint64_t value() const { return value_.load(std::memory_order_relaxed); }

  private:
    std::atomic<uint64_t> value_{0};
};

// A value that goes up and down (a level, not a rate).
class Gauge {
  public:
    void set(int64_t v) { value_.store(v, std::memory_order_relaxed); }
    void inc() { add(1); }
    void dec() { add(-1); }
    void add(int64_t n) { value_.fetch_add(n, std::memory_order_relaxed); }
    int64_t value() const { return value_.load(std::memory_order_relaxed); }

  private:
    std::atomic<int64_t> value_{0};
};

// A distribution over fixed upper bounds (seconds), plus +Inf.
class Histogram {
  public:
    static constexpr std::array<double, 9> kBounds{0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60};

    // Counts `value` in the first bucket whose bound is >= value (Prometheus `le`). NaN is
    // ignored; negative values land in the first bucket.
    void observe(double value);

    // Non-cumulative count of bucket `i` (i == kBounds.size() is +Inf).
    uint64_t bucket(size_t i) const { return buckets_[i].load(std::memory_order_relaxed); }
    uint64_t count() const;
    double sum() const { return sum_.load(std::memory_order_relaxed); }

  private:
    std::array<std::atomic<uint64_t>, kBounds.size() + 1> buckets_{};
    std::atomic<double> sum_{0};
};

class Metrics {
  public:
    Metrics() = default;
    Metrics(const Metrics&) = delete;
    Metrics& operator=(const Metrics&) = delete;

    // dlproxy_requests_total{result="HIT"}, one counter per result.
    Counter& requests(RequestResult r) { return requests_[static_cast<size_t>(r)]; }
    const Counter& requests(RequestResult r) const { return requests_[static_cast<size_t>(r)]; }

    Counter bytes_to_clients;     // response body bytes written to clients
    Counter bytes_from_cache;     // of those, bytes read from the cache
    Counter bytes_from_upstream;  // body bytes received from origins
    Counter retries;              // upstream attempts after the first, for any reason
    Counter resumes;              // retries that continued with a Range request
    Counter give_ups;             // fills abandoned after the retry budget ran out
    Counter discarded_bytes;      // bytes received but thrown away (a 200 answering a resume)
    Counter fill_disk_pauses;     // fills' transfers paused because the cache's writes were behind
    Counter fill_disk_pause_us;   // how long those pauses lasted (until the fill resumed)
    Counter checksum_failures;    // cached chunks that failed verification on read
    Counter range_fetches;        // separate upstream range fetches ahead of a fill
    Counter stalls;               // transfers that went silent mid-body (policy/stall_watch.h)
    Counter breaker_opened;   // origins whose circuit breaker opened (proxy/upstream/host_health.h)
    Counter breaker_refused;  // requests refused with 503 while an origin's breaker was open
    Counter hit_authorizations;  // signed-URL hits the origin accepted (hit_authorization.h)
    Counter hit_authorization_refusals;  // ...that it refused, or that nobody could check
    // Content identity (docs/model-hosts.md): objects whose sha256 was computed, by
    // verdict; the bytes hashed and the CPU time it took (microseconds, rendered in seconds);
    // how the bytes were hashed: while filling, or read back after it.
    Counter sha256_verified;
    Counter sha256_unverified;
    Counter sha256_mismatches;
    Counter sha256_bytes;
    Counter sha256_cpu_us;
    Counter sha256_inline_bytes;    // hashed by the fill's write jobs, as they wrote them
    Counter sha256_readback_bytes;  // read back from the store and hashed
    Counter url_refreshes;          // expired signed URLs replaced mid-fill
    Counter url_refresh_failures;   // refreshes that found no usable new URL
    Counter offline_answers;        // resolve URLs answered from the cache, origin unreachable
    Counter fallback_fills;         // fills continued from a fallback source (its answer taken)
    Counter fallback_refusals;      // fallback sources not used: other content, unproven, errors
    Counter fallback_bytes;         // body bytes taken from fallback sources

    Gauge cache_bytes;         // body bytes present in the cache
    Gauge cache_objects;       // objects in the cache index
    Gauge inflight_fills;      // objects being fetched right now
    Gauge client_connections;  // open client connections
    Gauge hosts_failing;       // origins whose breaker is open or half-open
    // The memory budget (proxy/loop/memory_budget.h), refreshed when /metrics is scraped.
    Gauge memory_budget;             // --memory-budget, bytes (0: none)
    Gauge memory_in_use_fills;       // chunk buffers held by fills
    Gauge memory_in_use_reads;       // chunk buffers read back for clients
    Gauge memory_pressure;           // 1 while short of memory
    Gauge memory_pressure_episodes;  // episodes of pressure since start

    Histogram recovery_seconds;  // from a transfer failing to bytes flowing again

    // The whole registry in the Prometheus text format 0.0.4 (Content-Type
    // `text/plain; version=0.0.4`): a HELP and a TYPE line per metric, then its samples.
    std::string render_prometheus() const;

  private:
    std::array<Counter, kRequestResultCount> requests_{};
};

// The process-wide registry: created on first use, never destroyed before exit. The request path
// and the admin endpoint share it. Tests that need a clean slate construct their own Metrics.
Metrics& metrics();

namespace detail {

// A label value escaped for the exposition format: backslash, double quote and newline.
std::string escape_label_value(std::string_view value);

// A sample value: integers without a fraction, "+Inf"/"-Inf"/"NaN", else shortest round-trip.
std::string format_sample(double value);

}  // namespace detail

}  // namespace proxy
