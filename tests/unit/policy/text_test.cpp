#include "policy/text.h"

#include <doctest/doctest.h>

using namespace policy::detail;

TEST_CASE("policy/text: parse_digits") {
    struct Row {
        const char* in;
        std::optional<uint64_t> expected;
    };
    const Row rows[] = {
        {"0", 0},
        {"007", 7},
        {"18446744073709551615", UINT64_MAX},
        {"18446744073709551616", std::nullopt},
        {"99999999999999999999999999", std::nullopt},
        {"", std::nullopt},
        {"-1", std::nullopt},
        {"+1", std::nullopt},
        {" 1", std::nullopt},
        {"1a", std::nullopt},
    };
    for (const auto& row : rows) {
        INFO(std::string(row.in));
        CHECK(parse_digits(row.in) == row.expected);
    }
}

TEST_CASE("policy/text: parse_digits_saturating") {
    struct Row {
        const char* in;
        uint64_t max;
        std::optional<uint64_t> expected;
    };
    const Row rows[] = {
        {"5", UINT64_MAX, 5},
        {"18446744073709551616", UINT64_MAX, UINT64_MAX},
        {"999999999999999999999999999999", UINT64_MAX, UINT64_MAX},
        {"2147483648", 2147483648u, 2147483648u},
        {"2147483649", 2147483648u, 2147483648u},
        {"9", 5, 5},
        {"99999999999999999999999x", UINT64_MAX, std::nullopt},
        {"", UINT64_MAX, std::nullopt},
    };
    for (const auto& row : rows) {
        INFO(std::string(row.in));
        CHECK(parse_digits_saturating(row.in, row.max) == row.expected);
    }
}

TEST_CASE("policy/text: split_list keeps quoted commas together") {
    using V = std::vector<std::string_view>;
    struct Row {
        const char* in;
        std::optional<V> expected;
    };
    const Row rows[] = {
        {"a, b,c", V{"a", "b", "c"}},
        {" , ,a,, ", V{"a"}},
        {"", V{}},
        {"no-cache=\"a, b\", max-age=1", V{"no-cache=\"a, b\"", "max-age=1"}},
        {"x=\"a\\\",b\", y", V{"x=\"a\\\",b\"", "y"}},
        {"x=\"open", std::nullopt},
        {"x=\"ends in backslash\\", std::nullopt},
    };
    for (const auto& row : rows) {
        INFO(std::string(row.in));
        CHECK(split_list(row.in) == row.expected);
    }
}

TEST_CASE("policy/text: tokens and quoted strings") {
    CHECK(is_token("max-age"));
    CHECK_FALSE(is_token(""));
    CHECK_FALSE(is_token("a b"));
    CHECK_FALSE(is_token("a=b"));
    CHECK(unquote("plain") == "plain");
    CHECK(unquote("\"a\\\"b\"") == "a\"b");
    CHECK(unquote("\"\"") == "");
    CHECK(unquote("\"open") == std::nullopt);
    CHECK(unquote("\"a\"b") == std::nullopt);
    CHECK(unquote("\"a\\") == std::nullopt);
    CHECK(istarts_with("X-Amz-Date", "x-amz-"));
    CHECK_FALSE(istarts_with("X-Am", "x-amz-"));
    CHECK(ascii_lower("AbC-1") == "abc-1");
}
