#include "policy/request_target.h"

#include <doctest/doctest.h>

using namespace policy;

TEST_CASE("policy/request_target: absolute-form") {
    auto t = parse_absolute_target("http://Example.COM/a/b?c=d#frag");
    REQUIRE(t);
    CHECK(t->scheme == "http");
    CHECK(t->host == "example.com");
    CHECK(t->port == 80);
    CHECK(t->path == "/a/b?c=d");
    CHECK(t->host_header() == "example.com");
    CHECK(t->url() == "http://example.com/a/b?c=d");
}

TEST_CASE("policy/request_target: ports, empty paths, IPv6") {
    auto t = parse_absolute_target("http://127.0.0.1:8080");
    REQUIRE(t);
    CHECK(t->port == 8080);
    CHECK(t->path == "/");
    CHECK(t->host_header() == "127.0.0.1:8080");
    auto q = parse_absolute_target("http://h?x=1");
    REQUIRE(q);
    CHECK(q->path == "/?x=1");
    auto v6 = parse_absolute_target("http://[::1]:81/x");
    REQUIRE(v6);
    CHECK(v6->ipv6_literal);
    CHECK(v6->host == "::1");
    CHECK(v6->host_header() == "[::1]:81");
}

TEST_CASE("policy/request_target: rejections carry a reason") {
    struct Row {
        const char* target;
        TargetErrc expected;
    };
    const Row rows[] = {
        {"", TargetErrc::Empty},
        {"/index.html", TargetErrc::OriginForm},
        {"example.com/x", TargetErrc::NotAbsolute},
        {"ftp://h/x", TargetErrc::UnsupportedScheme},
        {"https://h/x", TargetErrc::UnsupportedScheme},
        {"http://user:pw@h/x", TargetErrc::Userinfo},
        {"http://h:99999/", TargetErrc::BadPort},
        {"http://h:/", TargetErrc::BadPort},
        {"http://h:8a/", TargetErrc::BadPort},
        {"http:///x", TargetErrc::BadHost},
        {"http://a,b/", TargetErrc::BadHost},
        {"http://[::1/", TargetErrc::BadHost},
        {"http://h/a b", TargetErrc::BadCharacter},
        {"http://h/\x7f", TargetErrc::BadCharacter},
    };
    for (const auto& row : rows) {
        CAPTURE(row.target);
        auto t = parse_absolute_target(row.target);
        REQUIRE_FALSE(t);
        CHECK(t.error() == row.expected);
        CHECK_FALSE(to_string(t.error()).empty());
    }
    CHECK(parse_absolute_target("https://h/x", true));
}

TEST_CASE("policy/request_target: host:port authorities") {
    auto a = parse_host_port("Example.com:443");
    REQUIRE(a);
    CHECK(a->host == "example.com");
    CHECK(a->port == 443);
    CHECK(a->to_string() == "example.com:443");
    auto b = parse_host_port("[::1]:0");
    REQUIRE(b);
    CHECK(b->ipv6_literal);
    CHECK(b->to_string() == "[::1]:0");
    CHECK_FALSE(parse_host_port("example.com"));
    CHECK_FALSE(parse_host_port("[::1]"));
    CHECK_FALSE(parse_host_port(":80"));
    CHECK_FALSE(parse_host_port("a@b:80"));
}
