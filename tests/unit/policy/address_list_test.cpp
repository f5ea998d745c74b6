#include "policy/address_list.h"

#include <doctest/doctest.h>

using namespace policy;

TEST_CASE("policy/address_list: IPv4 blocks") {
    auto block = parse_cidr("10.1.0.0/16");
    REQUIRE(block);
    const uint8_t in[4] = {10, 1, 200, 3};
    const uint8_t out[4] = {10, 2, 0, 1};
    CHECK(cidr_contains(*block, in));
    CHECK_FALSE(cidr_contains(*block, out));
    auto odd = parse_cidr("192.168.0.128/25");
    REQUIRE(odd);
    const uint8_t hi[4] = {192, 168, 0, 200};
    const uint8_t lo[4] = {192, 168, 0, 100};
    CHECK(cidr_contains(*odd, hi));
    CHECK_FALSE(cidr_contains(*odd, lo));
    CHECK(odd->to_string() == "192.168.0.128/25");
}

TEST_CASE("policy/address_list: loopback default, mapped IPv4, IPv6") {
    auto allow = loopback_only();
    const uint8_t v4[4] = {127, 0, 0, 1};
    const uint8_t other[4] = {8, 8, 8, 8};
    uint8_t v6_loop[16] = {};
    v6_loop[15] = 1;
    uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 9};
    uint8_t mapped_out[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 9, 0, 0, 9};
    CHECK(address_allowed(allow, v4));
    CHECK_FALSE(address_allowed(allow, other));
    CHECK(address_allowed(allow, v6_loop));
    CHECK(address_allowed(allow, mapped));
    CHECK_FALSE(address_allowed(allow, mapped_out));
}

TEST_CASE("policy/address_list: parse errors") {
    CHECK(parse_cidr("300.1.1.1/8").error() == CidrErrc::BadAddress);
    CHECK(parse_cidr("10.0.0.0/33").error() == CidrErrc::BadPrefix);
    CHECK(parse_cidr("10.0.0.0/").error() == CidrErrc::BadPrefix);
    CHECK(parse_cidr("::/129").error() == CidrErrc::BadPrefix);
    CHECK(parse_cidr("0.0.0.0/0"));
}
