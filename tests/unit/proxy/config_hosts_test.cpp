#include "proxy/config/config_hosts.h"

#include <doctest/doctest.h>

#include "proxy/upstream/upstream_route.h"

using namespace proxy;

TEST_CASE("proxy/config_hosts: resolve entries") {
    auto e = parse_resolve_entry("HuggingFace.co:443:127.0.0.1");
    REQUIRE(e);
    CHECK(e->host == "huggingface.co");
    CHECK(e->port == 443);
    CHECK(e->addresses == std::vector<std::string>{"127.0.0.1"});
    auto many = parse_resolve_entry("cdn.example:8443:[::1],10.0.0.2");
    REQUIRE(many);
    CHECK(many->addresses == std::vector<std::string>{"::1", "10.0.0.2"});
    for (const char* bad : {"", "host", "host:443", "host:443:", "host:0:127.0.0.1",
                            "host:99999:127.0.0.1", "host:443:localhost", "ho st:443:127.0.0.1",
                            "host:443:127.0.0.1,", "host:443:127.0.0.1:8443"}) {
        CAPTURE(bad);
        auto r = parse_resolve_entry(bad);
        REQUIRE_FALSE(r);
        CHECK(r.error().find("HOST:PORT:ADDR") != std::string::npos);
    }
}

TEST_CASE("proxy/config_hosts: connect-to entries") {
    auto e = parse_connect_to_entry("huggingface.co:443:127.0.0.1:40001");
    REQUIRE(e);
    CHECK(e->host == "huggingface.co");
    CHECK(e->port == 443);
    CHECK(e->to_host == "127.0.0.1");
    CHECK(e->to_port == 40001);
    auto any = parse_connect_to_entry("::[::1]:");
    REQUIRE(any);
    CHECK(any->host.empty());
    CHECK(any->port == 0);
    CHECK(any->to_host == "::1");
    CHECK(any->to_port == 0);
    for (const char* bad : {"", "a:443:b", "a:443:b:c", "a:x:b:1", "a:443::", "a:443:b:70000",
                            "a:443:[::1:1", "a b:443:b:1"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_connect_to_entry(bad));
    }
}

TEST_CASE("proxy/config_hosts: parent proxy URL and no-proxy list") {
    auto u = parse_proxy_url("http://user:p%40ss@Squid.lan:3128/");
    REQUIRE(u);
    CHECK(u->scheme == "http");
    CHECK(u->userinfo == "user:p%40ss");
    CHECK(u->host == "squid.lan");
    CHECK(u->port == 3128);
    CHECK(parse_proxy_url("socks5h://[::1]")->port == 1080);
    CHECK(parse_proxy_url("https://proxy.corp")->port == 443);
    for (const char* bad :
         {"squid:3128", "ftp://x", "http://", "http://x:0", "http://x/path", "http://a b"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_proxy_url(bad));
    }

    auto list = parse_no_proxy("localhost, .Internal.lan,10.1.2.3 ,");
    REQUIRE(list);
    CHECK(*list == std::vector<std::string>{"localhost", "internal.lan", "10.1.2.3"});
    CHECK(no_proxy_matches(*list, "LOCALHOST"));
    CHECK(no_proxy_matches(*list, "internal.lan"));
    CHECK(no_proxy_matches(*list, "a.b.internal.lan"));
    CHECK_FALSE(no_proxy_matches(*list, "xinternal.lan"));
    CHECK(no_proxy_matches(*list, "10.1.2.3"));
    CHECK_FALSE(no_proxy_matches(*list, "huggingface.co"));
    CHECK(no_proxy_matches(*parse_no_proxy("*"), "anything"));
    CHECK_FALSE(parse_no_proxy("a b"));
}

TEST_CASE("proxy/upstream_route: the hop of a CONNECT tunnel") {
    Config c;
    c.resolve = {"huggingface.co:443:127.0.0.2", "parent.lan:3128:127.0.0.9"};
    c.connect_to = {"civitai.com:443:127.0.0.3:8443"};
    UpstreamRoute direct(c);
    auto pinned = direct.tunnel_hop({"huggingface.co", 443, false});
    CHECK(pinned.host == "127.0.0.2");
    CHECK(pinned.port == 443);
    CHECK(pinned.numeric);
    CHECK(pinned.parent_connect.empty());
    auto moved = direct.tunnel_hop({"civitai.com", 443, false});
    CHECK(moved.host == "127.0.0.3");
    CHECK(moved.port == 8443);
    auto other_port = direct.tunnel_hop({"huggingface.co", 8443, false});
    CHECK(other_port.host == "huggingface.co");
    CHECK_FALSE(other_port.numeric);

    c.upstream_proxy = "http://u:p@parent.lan:3128";
    c.upstream_no_proxy = "example.org";
    UpstreamRoute parent(c);
    CHECK(parent.parent_carries_tunnels());
    CHECK(parent.parent_for_log() == "http://parent.lan:3128");
    auto via = parent.tunnel_hop({"civitai.com", 443, false});
    CHECK(via.host == "127.0.0.9");  // the parent's name, pinned by --resolve
    CHECK(via.port == 3128);
    CHECK(via.parent_connect == "127.0.0.3:8443");  // --connect-to applies to the CONNECT target
    CHECK(via.parent_authorization == "Basic dTpw");
    auto bypass = parent.tunnel_hop({"www.example.org", 443, false});
    CHECK(bypass.parent_connect.empty());
    CHECK(bypass.host == "www.example.org");

    c.upstream_proxy = "socks5h://127.0.0.1:1080";
    UpstreamRoute socks(c);
    CHECK_FALSE(socks.parent_carries_tunnels());
    CHECK(socks.tunnel_hop({"civitai.com", 443, false}).parent_connect.empty());
}
