#include "proxy/client/request_checks.h"

#include <doctest/doctest.h>

#include <string>

namespace {

policy::HostPort bound(const char* text) {
    return *policy::parse_host_port(text);
}

}  // namespace

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
