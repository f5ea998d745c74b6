#include "policy/header_list.h"

#include <doctest/doctest.h>

using namespace policy;

TEST_CASE("policy/header_list: end_to_end drops hop-by-hop and Connection-named fields") {
    HeaderList in = {{"Host", "a"},
                     {"Connection", "keep-alive, X-Secret"},
                     {"Keep-Alive", "5"},
                     {"X-Secret", "1"},
                     {"Set-Cookie", "a=1"},
                     {"Set-Cookie", "b=2"},
                     {"TE", "trailers"},
                     {"Transfer-Encoding", "chunked"},
                     {"Proxy-Connection", "keep-alive"},
                     {"Proxy-Authorization", "Basic x"},
                     {"Upgrade", "h2c"},
                     {"Content-Length", "3"}};
    HeaderList out = end_to_end(in);
    REQUIRE(out.size() == 4);
    CHECK(out[0].name == "Host");
    CHECK(out[1].value == "a=1");
    CHECK(out[2].value == "b=2");
    CHECK(out[3].name == "Content-Length");
}

TEST_CASE("policy/header_list: lookups are case-insensitive") {
    HeaderList h = {{"content-TYPE", "text/plain"}, {"Connection", "Close"}};
    CHECK(find_header(h, "Content-Type").value() == "text/plain");
    CHECK_FALSE(find_header(h, "Content-Length").has_value());
    CHECK(has_token(h, "connection", "close"));
    CHECK_FALSE(has_token(h, "connection", "keep-alive"));
    CHECK(count_header(h, "CONNECTION") == 1);
    remove_header(h, "connection");
    CHECK(h.size() == 1);
}

TEST_CASE("policy/header_list: Via is appended to an existing list") {
    HeaderList h;
    add_via(h, "1.1", "dlproxy");
    CHECK(find_header(h, "Via").value() == "1.1 dlproxy");
    add_via(h, "1.1", "other");
    CHECK(find_header(h, "Via").value() == "1.1 dlproxy, 1.1 other");
}

TEST_CASE("policy/header_list: trim_ows") {
    CHECK(trim_ows(" \t a b \t") == "a b");
    CHECK(trim_ows("").empty());
    CHECK(trim_ows("   ").empty());
}
