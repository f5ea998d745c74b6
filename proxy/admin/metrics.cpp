#include "proxy/admin/metrics.h"

#include <charconv>
#include <cmath>

namespace proxy {

namespace {

constexpr std::array<std::string_view, kRequestResultCount> kResultNames{
    "HIT",    "MISS",  "PARTIAL_HIT", "REVALIDATED", "PASS",
    "TUNNEL", "ERROR", "ABORTED",     "DENIED",      "INTERCEPT"};

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
    out.append("# HELP dlproxy_").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE dlproxy_").append(name).append(" ").append(type).append("\n");
}

// Integer samples are written exactly: a byte counter past 2^53 must not lose its last digits.
void sample(std::string& out, std::string_view name, std::string_view labels,
            std::string_view value) {
    out.append("dlproxy_").append(name);
    if (!labels.empty()) out.append("{").append(labels).append("}");
    out.append(" ").append(value).append("\n");
}

void sample(std::string& out, std::string_view name, std::string_view labels, uint64_t value) {
    sample(out, name, labels, std::to_string(value));
}

void counter(std::string& out, std::string_view name, std::string_view help, const Counter& c) {
    header(out, name, "counter", help);
    sample(out, name, "", c.value());
}

// A counter kept in microseconds, exposed in seconds (the Prometheus base unit).
void seconds_counter(std::string& out, std::string_view name, std::string_view help,
                     const Counter& microseconds) {
    header(out, name, "counter", help);
    sample(out, name, "", detail::format_sample(static_cast<double>(microseconds.value()) / 1e6));
}

void gauge(std::string& out, std::string_view name, std::string_view help, const Gauge& g) {
    header(out, name, "gauge", help);
    sample(out, name, "", std::to_string(g.value()));
}

std::string label(std::string_view name, std::string_view value) {
    return std::string(name) + "=\"" + detail::escape_label_value(value) + "\"";
}

void histogram(std::string& out, std::string_view name, std::string_view help, const Histogram& h) {
    header(out, name, "histogram", help);
    const std::string bucket = std::string(name) + "_bucket";
    uint64_t cumulative = 0;
    for (size_t i = 0; i < Histogram::kBounds.size(); ++i) {
        cumulative += h.bucket(i);
        sample(out, bucket, label("le", detail::format_sample(Histogram::kBounds[i])), cumulative);
    }
    cumulative += h.bucket(Histogram::kBounds.size());
    sample(out, bucket, label("le", "+Inf"), cumulative);
    sample(out, std::string(name) + "_sum", "", detail::format_sample(h.sum()));
    // _count equals the +Inf bucket by definition; derive it from the same reads.
    sample(out, std::string(name) + "_count", "", cumulative);
}

}  // namespace

std::string_view to_string(RequestResult r) {
    return kResultNames[static_cast<size_t>(r)];
}

std::optional<RequestResult> request_result_from_string(std::string_view word) {
    for (size_t i = 0; i < kRequestResultCount; ++i)
        if (kResultNames[i] == word) return static_cast<RequestResult>(i);
    return std::nullopt;
}

void Histogram::observe(double value) {
    if (std::isnan(value)) return;
    size_t i = 0;
    while (i < kBounds.size() && value > kBounds[i])
        ++i;
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    // std::atomic<double>::fetch_add is C++20 but not in every standard library we build with.
    double old = sum_.load(std::memory_order_relaxed);
    while (!sum_.compare_exchange_weak(old, old + value, std::memory_order_relaxed)) {
    }
}

uint64_t Histogram::count() const {
    uint64_t n = 0;
    for (const auto& b : buckets_)
        n += b.load(std::memory_order_relaxed);
    return n;
}

std::string Metrics::render_prometheus() const {
    std::string out;
    out.reserve(4096);
    header(out, "requests_total", "counter", "Client transactions by result.");
    for (size_t i = 0; i < kRequestResultCount; ++i) {
        sample(out, "requests_total", label("result", kResultNames[i]), requests_[i].value());
    }
    counter(out, "bytes_to_clients_total", "Response body bytes written to clients.",
            bytes_to_clients);
    counter(out, "bytes_from_cache_total", "Response body bytes served from the cache.",
            bytes_from_cache);
    counter(out, "bytes_from_upstream_total", "Response body bytes received from origins.",
            bytes_from_upstream);
    counter(out, "retries_total", "Upstream attempts after the first.", retries);
    counter(out, "resumes_total", "Retries that continued with a Range request.", resumes);
    counter(out, "give_ups_total", "Fills abandoned after the retry budget ran out.", give_ups);
    counter(out, "stalls_total", "Upstream transfers that went silent mid-body.", stalls);
    counter(out, "breaker_opened_total", "Times an origin's circuit breaker opened.",
            breaker_opened);
    counter(out, "breaker_refused_total",
            "Requests refused with 503 because their origin's breaker was open.", breaker_refused);
    counter(out, "range_fetches_total",
            "Separate upstream range requests for a client Range far ahead of its fill.",
            range_fetches);
    counter(out, "discarded_bytes_total", "Bytes received from origins and thrown away.",
            discarded_bytes);
    counter(out, "fill_disk_pauses_total",
            "Times a fill paused its upstream transfer because the cache's writes were behind.",
            fill_disk_pauses);
    seconds_counter(out, "fill_disk_pause_seconds_total",
                    "Time fills spent paused because the cache's writes were behind.",
                    fill_disk_pause_us);
    counter(out, "checksum_failures_total", "Cached chunks that failed verification on read.",
            checksum_failures);
    header(out, "sha256_objects_total", "counter",
           "Complete objects whose sha256 was computed, by verdict against the announced digest.");
    sample(out, "sha256_objects_total", label("verdict", "verified"), sha256_verified.value());
    sample(out, "sha256_objects_total", label("verdict", "unverified"), sha256_unverified.value());
    sample(out, "sha256_objects_total", label("verdict", "mismatch"), sha256_mismatches.value());
    counter(out, "sha256_bytes_total", "Bytes hashed to verify complete objects.", sha256_bytes);
    counter(out, "sha256_inline_bytes_total",
            "Bytes hashed by the fill's write jobs as they wrote them (no read-back).",
            sha256_inline_bytes);
    counter(out, "sha256_readback_bytes_total",
            "Bytes read back from the cache and hashed after a fill that was not one ordered pass.",
            sha256_readback_bytes);
    seconds_counter(out, "sha256_cpu_seconds_total",
                    "Worker CPU time spent hashing objects, while filling or reading them back.",
                    sha256_cpu_us);
    counter(out, "url_refreshes_total",
            "Expired signed URLs replaced mid-fill through the request that redirected to them.",
            url_refreshes);
    counter(out, "url_refresh_failures_total",
            "Refreshes of an expired signed URL that found no usable new URL.",
            url_refresh_failures);
    counter(out, "offline_answers_total",
            "Resolve URLs answered from the cache because their origin could not be reached.",
            offline_answers);
    counter(out, "fallback_fills_total",
            "Fills continued from a fallback source after their origin failed.", fallback_fills);
    counter(out, "fallback_refusals_total",
            "Fallback sources not used: other or unproven content, an error answer, a failure.",
            fallback_refusals);
    counter(out, "fallback_bytes_total", "Body bytes taken from fallback sources.", fallback_bytes);
    counter(out, "hit_authorizations_total",
            "Hits through a signed URL that the origin accepted before they were served.",
            hit_authorizations);
    counter(out, "hit_authorization_refusals_total",
            "Hits through a signed URL that the origin refused or that could not be checked.",
            hit_authorization_refusals);
    gauge(out, "cache_bytes", "Body bytes present in the cache.", cache_bytes);
    gauge(out, "cache_objects", "Objects in the cache index.", cache_objects);
    gauge(out, "inflight_fills", "Objects being fetched from origins now.", inflight_fills);
    gauge(out, "client_connections", "Open client connections.", client_connections);
    gauge(out, "hosts_failing", "Origins whose circuit breaker is open or half-open.",
          hosts_failing);
    gauge(out, "memory_budget_bytes", "Chunk buffers the process may hold (0: no budget).",
          memory_budget);
    gauge(out, "memory_fill_bytes", "Chunk buffers held by fills.", memory_in_use_fills);
    gauge(out, "memory_read_bytes", "Chunk buffers read back from the cache for clients.",
          memory_in_use_reads);
    gauge(out, "memory_pressure", "1 while the memory budget is nearly used up.", memory_pressure);
    gauge(out, "memory_pressure_episodes",
          "Times the memory budget came under pressure since start.", memory_pressure_episodes);
    histogram(out, "recovery_seconds",
              "Seconds from a failed upstream transfer to bytes flowing again.", recovery_seconds);
    return out;
}

Metrics& metrics() {
    // Leaked on purpose: request-path code may still count during static destruction.
    static Metrics* instance = new Metrics();
    return *instance;
}

namespace detail {

std::string escape_label_value(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

std::string format_sample(double value) {
    if (std::isnan(value)) return "NaN";
    if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
    if (value == std::trunc(value) && std::fabs(value) < 1e15) {
        return std::to_string(static_cast<int64_t>(value));
    }
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
    return ec == std::errc() ? std::string(buf, end) : std::to_string(value);
}

}  // namespace detail

}  // namespace proxy
