#include "proxy/admin/metrics.h"

#include <doctest/doctest.h>

#include <cmath>

#include "tests/unit/proxy/prometheus_text.h"

using proxy::Metrics;
using proxy::RequestResult;

namespace {

std::string errors_of(const promtext::Parsed& p) {
    std::string out;
    for (const auto& e : p.errors)
        out += e + "\n";
    return out;
}

}  // namespace

TEST_CASE("proxy/metrics: a fresh registry renders every family, valid and at zero") {
    Metrics m;
    auto page = promtext::parse(m.render_prometheus());
    REQUIRE_MESSAGE(page.ok(), errors_of(page));
    for (const char* name :
         {"dlproxy_requests_total", "dlproxy_bytes_to_clients_total",
          "dlproxy_bytes_from_cache_total", "dlproxy_bytes_from_upstream_total",
          "dlproxy_retries_total", "dlproxy_resumes_total", "dlproxy_give_ups_total",
          "dlproxy_discarded_bytes_total", "dlproxy_checksum_failures_total"}) {
        const auto* f = page.family(name);
        REQUIRE_MESSAGE(f != nullptr, name);
        CHECK(f->type == "counter");
        CHECK_FALSE(f->help.empty());
    }
    for (const char* name : {"dlproxy_cache_bytes", "dlproxy_cache_objects",
                             "dlproxy_inflight_fills", "dlproxy_client_connections"}) {
        REQUIRE_MESSAGE(page.family(name) != nullptr, name);
        CHECK(page.family(name)->type == "gauge");
        CHECK(page.value(name) == 0);
    }
    REQUIRE(page.family("dlproxy_recovery_seconds") != nullptr);
    CHECK(page.family("dlproxy_recovery_seconds")->type == "histogram");
    CHECK(page.family("dlproxy_requests_total")->samples.size() == proxy::kRequestResultCount);
}

TEST_CASE("proxy/metrics: counters, gauges and results appear under their labels") {
    Metrics m;
    m.requests(RequestResult::Hit).inc();
    m.requests(RequestResult::Hit).inc();
    m.requests(RequestResult::PartialHit).add(5);
    m.bytes_from_cache.add(uint64_t{1} << 60);  // past 2^53: must print exactly
    m.client_connections.inc();
    m.client_connections.inc();
    m.client_connections.dec();
    m.inflight_fills.set(-3);
    auto page = promtext::parse(m.render_prometheus());
    REQUIRE_MESSAGE(page.ok(), errors_of(page));
    CHECK(page.value("dlproxy_requests_total", {{"result", "HIT"}}) == 2);
    CHECK(page.value("dlproxy_requests_total", {{"result", "PARTIAL_HIT"}}) == 5);
    CHECK(page.value("dlproxy_requests_total", {{"result", "DENIED"}}) == 0);
    CHECK(page.value("dlproxy_client_connections") == 1);
    CHECK(page.value("dlproxy_inflight_fills") == -3);
    CHECK(m.render_prometheus().find("dlproxy_bytes_from_cache_total 1152921504606846976\n") !=
          std::string::npos);
}

TEST_CASE("proxy/metrics: result names are the access log's words") {
    CHECK(proxy::to_string(RequestResult::Hit) == "HIT");
    CHECK(proxy::to_string(RequestResult::PartialHit) == "PARTIAL_HIT");
    CHECK(proxy::to_string(RequestResult::Revalidated) == "REVALIDATED");
    CHECK(proxy::to_string(RequestResult::Denied) == "DENIED");
    CHECK(proxy::to_string(RequestResult::Intercept) == "INTERCEPT");
    CHECK(proxy::request_result_from_string("INTERCEPT") == RequestResult::Intercept);
    for (size_t i = 0; i < proxy::kRequestResultCount; ++i) {
        auto r = static_cast<RequestResult>(i);
        CHECK(proxy::request_result_from_string(proxy::to_string(r)) == r);
    }
    CHECK_FALSE(proxy::request_result_from_string("hit").has_value());
    CHECK_FALSE(proxy::request_result_from_string("-").has_value());
}

TEST_CASE("proxy/metrics: histogram buckets are cumulative with le bounds and +Inf") {
    Metrics m;
    for (double s : {0.05, 0.1, 0.3, 7.0, 100.0, -1.0})
        m.recovery_seconds.observe(s);
    m.recovery_seconds.observe(NAN);  // ignored
    CHECK(m.recovery_seconds.count() == 6);
    auto page = promtext::parse(m.render_prometheus());
    REQUIRE_MESSAGE(page.ok(), errors_of(page));
    auto bucket = [&](const char* le) {
        return page.value("dlproxy_recovery_seconds_bucket", {{"le", le}});
    };
    CHECK(bucket("0.1") == 3);  // -1, 0.05 and 0.1 (le is inclusive)
    CHECK(bucket("0.25") == 3);
    CHECK(bucket("0.5") == 4);
    CHECK(bucket("5") == 4);
    CHECK(bucket("10") == 5);
    CHECK(bucket("60") == 5);
    CHECK(bucket("+Inf") == 6);
    CHECK(page.value("dlproxy_recovery_seconds_count") == 6);
    CHECK(page.value("dlproxy_recovery_seconds_sum") == doctest::Approx(106.45));
}

TEST_CASE("proxy/metrics: label values and samples are escaped and formatted") {
    using proxy::detail::escape_label_value;
    using proxy::detail::format_sample;
    CHECK(escape_label_value("plain") == "plain");
    CHECK(escape_label_value("a\"b\\c\nd") == "a\\\"b\\\\c\\nd");
    CHECK(format_sample(0) == "0");
    CHECK(format_sample(60) == "60");
    CHECK(format_sample(0.25) == "0.25");
    CHECK(format_sample(-2) == "-2");
    CHECK(format_sample(INFINITY) == "+Inf");
    CHECK(format_sample(-INFINITY) == "-Inf");
    CHECK(format_sample(NAN) == "NaN");
}

TEST_CASE("proxy/metrics: the process-wide registry is one instance") {
    CHECK(&proxy::metrics() == &proxy::metrics());
}

// The checker must reject what it exists to catch, or the tests above prove nothing.
TEST_CASE("proxy/metrics: the Prometheus text checker rejects malformed pages") {
    auto bad = [](const char* text) { return !promtext::parse(text).ok(); };
    CHECK_FALSE(bad("# HELP a_total x\n# TYPE a_total counter\na_total 1\n"));
    CHECK_FALSE(bad("a{l=\"q\\\"\\\\\\n\"} 1\n"));
    CHECK(bad("a_total 1"));                              // no final newline
    CHECK(bad("a b 1\n"));                                // space in the name
    CHECK(bad("1a 1\n"));                                 // name starts with a digit
    CHECK(bad("a{l=\"x\\t\"} 1\n"));                      // bad escape
    CHECK(bad("a{l=\"x} 1\n"));                           // unterminated value
    CHECK(bad("a{l=\"x\",l=\"y\"} 1\n"));                 // repeated label
    CHECK(bad("a 1\na 2\n"));                             // duplicate series
    CHECK(bad("a 1\nb 1\na{x=\"1\"} 1\n"));               // family not contiguous
    CHECK(bad("a one\n"));                                // bad value
    CHECK(bad("# TYPE a counter\na -1\n"));               // negative counter
    CHECK(bad("a 1\n# TYPE a gauge\n"));                  // TYPE after samples
    CHECK(bad("# TYPE a gauge\n# TYPE a gauge\na 1\n"));  // TYPE twice
    CHECK(bad("# TYPE a flavour\na 1\n"));                // unknown type
    CHECK(
        bad("# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
            "h_sum 1\nh_count 1\n"));  // decreasing buckets
    CHECK(bad("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n"));     // no +Inf
    CHECK(bad("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n"));  // != count
}
