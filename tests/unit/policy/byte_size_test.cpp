#include "policy/byte_size.h"

#include <doctest/doctest.h>

using namespace policy;

TEST_CASE("policy/byte_size: parse units") {
    CHECK(parse_byte_size("4096").value() == 4096);
    CHECK(parse_byte_size("1B").value() == 1);
    CHECK(parse_byte_size("1KiB").value() == 1024);
    CHECK(parse_byte_size("1kb").value() == 1000);
    CHECK(parse_byte_size("50GiB").value() == 50ull << 30);
    CHECK(parse_byte_size("1.5G").value() == 1610612736ull);
    CHECK(parse_byte_size(" 2 MiB ").value() == 2ull << 20);
    CHECK(parse_byte_size("2TB").value() == 2000000000000ull);
}

TEST_CASE("policy/byte_size: errors") {
    CHECK(parse_byte_size("").error() == SizeErrc::Empty);
    CHECK(parse_byte_size("GiB").error() == SizeErrc::BadNumber);
    CHECK(parse_byte_size("1.").error() == SizeErrc::BadNumber);
    CHECK(parse_byte_size("1..2G").error() == SizeErrc::BadNumber);
    CHECK(parse_byte_size("10 parsecs").error() == SizeErrc::BadUnit);
    CHECK(parse_byte_size("99999999999TiB").error() == SizeErrc::Overflow);
}

TEST_CASE("policy/byte_size: format") {
    CHECK(format_byte_size(0) == "0B");
    CHECK(format_byte_size(1023) == "1023B");
    CHECK(format_byte_size(1536) == "1.5KiB");
    CHECK(format_byte_size(50ull << 30) == "50GiB");
}
