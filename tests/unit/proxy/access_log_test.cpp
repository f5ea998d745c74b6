#include "proxy/admin/access_log.h"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

using proxy::AccessRecord;

namespace {

AccessRecord record(std::string_view result, int status) {
    AccessRecord r;
    r.duration_ms = 1234.6;
    r.client = "127.0.0.1:40000";
    r.result = result;
    r.status = status;
    r.bytes = 1048576;
    r.method = "GET";
    r.url = "http://origin.test/models/x.bin";
    r.upstream = "10.0.0.7:80";
    return r;
}

}  // namespace

TEST_CASE("proxy/access_log: format names") {
    CHECK(proxy::access_log_format_from_string("native") == proxy::AccessLogFormat::Native);
    CHECK(proxy::access_log_format_from_string("squid") == proxy::AccessLogFormat::Squid);
    CHECK(proxy::access_log_format_from_string("json") == proxy::AccessLogFormat::Json);
    CHECK_FALSE(proxy::access_log_format_from_string("Squid"));
    CHECK_FALSE(proxy::access_log_format_from_string(""));
}

TEST_CASE("proxy/access_log: result words map to Squid codes") {
    using proxy::squid_code;
    CHECK(squid_code("HIT", false) == "TCP_HIT");
    CHECK(squid_code("MISS", false) == "TCP_MISS");
    CHECK(squid_code("MISS", true) == "TCP_MISS_RESUMED");
    CHECK(squid_code("PARTIAL_HIT", false) == "TCP_PARTIAL_HIT");
    CHECK(squid_code("PARTIAL_HIT", true) == "TCP_PARTIAL_HIT_RESUMED");
    CHECK(squid_code("REVALIDATED", false) == "TCP_REFRESH_UNMODIFIED");
    CHECK(squid_code("PASS", false) == "TCP_MISS");
    CHECK(squid_code("TUNNEL", false) == "TCP_TUNNEL");
    CHECK(squid_code("DENIED", false) == "TCP_DENIED");
    CHECK(squid_code("ABORTED", false) == "TCP_MISS_ABORTED");
    CHECK(squid_code("ERROR", false) == "TCP_MISS");
    CHECK(squid_code("INTERCEPT", false) == "NONE_NONE");
}

TEST_CASE("proxy/access_log: a squid line has Squid's ten fields") {
    CHECK(proxy::format_squid_line(record("MISS", 200), false, 1700000000.0421) ==
          "1700000000.042   1235 127.0.0.1 TCP_MISS/200 1048576 GET "
          "http://origin.test/models/x.bin - HIER_DIRECT/10.0.0.7 -");
    CHECK(proxy::format_squid_line(record("HIT", 206), false, 1700000000.5) ==
          "1700000000.500   1235 127.0.0.1 TCP_HIT/206 1048576 GET "
          "http://origin.test/models/x.bin - HIER_NONE/- -");
    auto v6 = record("TUNNEL", 200);
    v6.client = "[::1]:5555";
    v6.method = "CONNECT";
    v6.url = "example.test:443";
    v6.upstream = "[2001:db8::1]:443";
    CHECK(proxy::format_squid_line(v6, false, 1.0) ==
          "1.000   1235 ::1 TCP_TUNNEL/200 1048576 CONNECT example.test:443 - "
          "HIER_DIRECT/2001:db8::1 -");
}

TEST_CASE("proxy/access_log: a json line is one object with every field") {
    auto line = proxy::format_json_line(record("MISS", 200), true, 1700000000.25);
    CHECK(line.find('\n') == std::string::npos);
    auto j = nlohmann::json::parse(line);
    CHECK(j["time"] == 1700000000.25);
    CHECK(j["duration_ms"] == 1234.6);
    CHECK(j["client"] == "127.0.0.1:40000");
    CHECK(j["result"] == "MISS");
    CHECK(j["squid_code"] == "TCP_MISS_RESUMED");
    CHECK(j["status"] == 200);
    CHECK(j["bytes"] == 1048576);
    CHECK(j["url"] == "http://origin.test/models/x.bin");
    CHECK(j["recovered"] == true);
}
