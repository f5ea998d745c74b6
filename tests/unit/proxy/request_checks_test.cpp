#include "proxy/request_checks.h"

#include <doctest/doctest.h>

#include <string>

namespace {

// Where a value span starting with `value` begins inside `buffer`.
bool folded(const std::string& buffer, const std::string& value, char previous = '\0') {
    size_t at = buffer.rfind(value);
    REQUIRE(at != std::string::npos);
    return proxy::value_starts_folded_line(buffer.data() + at, buffer.data(), previous);
}

policy::HostPort bound(const char* text) {
    return *policy::parse_host_port(text);
}

}  // namespace

TEST_CASE("proxy/request_checks: obs-fold is told from a value split by a read") {
    CHECK_FALSE(folded("X-A: first\r\n", "first"));
    CHECK_FALSE(folded("X-A:first\r\n", "first"));
    CHECK_FALSE(folded("X-A: \t first\r\n", "first"));
    CHECK(folded("X-A: first\r\n second\r\n", " second"));
    CHECK(folded("X-A: first\r\n second\r\n", "second"));
    CHECK(folded("X-A: first\r\n\t \tsecond\r\n", "second"));
    CHECK(folded("Transfer-Encoding:\r\n chunked\r\n", "chunked"));
    // At the start of a buffer, the byte before comes from the previous buffer.
    CHECK_FALSE(folded("rst\r\n", "rst", 'i'));
    CHECK_FALSE(folded(" value\r\n", "value", ':'));
    CHECK(folded(" second\r\n", " second", '\n'));
    CHECK(folded("second\r\n", "second", '\n'));
    CHECK(proxy::last_non_whitespace("ab \t", 'x') == 'b');
    CHECK(proxy::last_non_whitespace(" \t", 'x') == 'x');
    CHECK(proxy::last_non_whitespace("a\r\n ", 'x') == '\n');
}

TEST_CASE("proxy/request_checks: Via naming our pseudonym") {
    using policy::HeaderList;
    CHECK(proxy::via_names(HeaderList{{"Via", "1.1 dlproxy"}}, "dlproxy"));
    CHECK(proxy::via_names(HeaderList{{"via", "1.0 fred, 1.1 DLPROXY (x)"}}, "dlproxy"));
    CHECK(proxy::via_names(HeaderList{{"Via", "1.0 a"}, {"Via", "HTTP/1.1 dlproxy:3128"}},
                           "dlproxy"));
    CHECK_FALSE(proxy::via_names(HeaderList{{"Via", "1.1 dlproxy-edge, 1.1 squid"}}, "dlproxy"));
    CHECK_FALSE(proxy::via_names(HeaderList{{"Via", "dlproxy"}}, "dlproxy"));
    CHECK_FALSE(proxy::via_names(HeaderList{{"X-Via", "1.1 dlproxy"}}, "dlproxy"));
    CHECK_FALSE(proxy::via_names(HeaderList{{"Via", "1.1 fred (dlproxy)"}}, "dlproxy"));
}

TEST_CASE("proxy/request_checks: targets naming the listener") {
    using proxy::targets_listener;
    auto lo = bound("127.0.0.1:3128");
    CHECK(targets_listener("127.0.0.1", 3128, lo));
    CHECK(targets_listener("localhost", 3128, lo));
    CHECK(targets_listener("localhost.", 3128, lo));
    CHECK(targets_listener("a.localhost", 3128, lo));
    CHECK(targets_listener("0.0.0.0", 3128, lo));
    CHECK(targets_listener("::", 3128, lo));
    CHECK(targets_listener("::ffff:127.0.0.1", 3128, lo));
    CHECK_FALSE(targets_listener("127.0.0.1", 3129, lo));
    CHECK_FALSE(targets_listener("127.0.0.2", 3128, lo));
    CHECK_FALSE(targets_listener("example.com", 3128, lo));
    CHECK_FALSE(targets_listener("notlocalhost", 3128, lo));

    auto any = bound("0.0.0.0:8080");
    CHECK(targets_listener("127.0.0.5", 8080, any));
    CHECK(targets_listener("::1", 8080, any));
    CHECK_FALSE(targets_listener("192.0.2.1", 8080, any));  // caught one hop later, by Via

    auto v6 = bound("[::1]:3128");
    CHECK(targets_listener("::1", 3128, v6));
    CHECK(targets_listener("localhost", 3128, v6));
    CHECK_FALSE(targets_listener("127.0.0.1", 3128, v6));

    auto lan = bound("192.0.2.7:3128");
    CHECK(targets_listener("192.0.2.7", 3128, lan));
    CHECK_FALSE(targets_listener("localhost", 3128, lan));
}
