#include "proxy/config/toml_guard.h"

#include <doctest/doctest.h>

#include <string>

#include "proxy/config/config.h"

// docs/fuzzing.md finding 5: toml++ 3.3.0 is undefined on some non-ASCII code points.
TEST_CASE("proxy/toml_guard: the code points toml++ 3.3.0 cannot classify") {
    using proxy::toml_whitespace_check_undefined;
    CHECK(toml_whitespace_check_undefined(0x02DA));  // the fuzzer's "a = \xcb\x9a"
    CHECK(toml_whitespace_check_undefined(0x00E9));  // é
    CHECK(toml_whitespace_check_undefined(0x00A1));
    CHECK(toml_whitespace_check_undefined(0x3001));
    CHECK(toml_whitespace_check_undefined(0xFB30));
    // Whitespace toml++ answers for, blocks it handles, and code points outside its table.
    for (char32_t c : {0x20, 0x41, 0x7F, 0xA0, 0x3000, 0xFEFF, 0x1680, 0x2000, 0x202F, 0x2060,
                       0x4E00, 0xFF21, 0x1F600})
        CHECK_FALSE(toml_whitespace_check_undefined(c));
}

TEST_CASE("proxy/toml_guard: toml_unsupported_character names the line and code point") {
    using proxy::toml_unsupported_character;
    auto found = toml_unsupported_character("# ok\na = \xcb\x9a\n");
    REQUIRE(found);
    CHECK(found->find("line 2") != std::string::npos);
    CHECK(found->find("U+02DA") != std::string::npos);
    CHECK(found->find("\\u02DA") != std::string::npos);
    CHECK_FALSE(toml_unsupported_character(""));
    CHECK_FALSE(toml_unsupported_character("cache_dir = \"caf\\u00e9\""));
    CHECK_FALSE(toml_unsupported_character("cache_dir = \"\xe6\x97\xa5\xe6\x9c\xac\""));  // 日本
    // Not well-formed UTF-8: skipped (toml++ refuses it before classifying anything).
    CHECK_FALSE(toml_unsupported_character("\xcb"));
    CHECK_FALSE(
        toml_unsupported_character("\xcb"
                                   "a"));
    CHECK(
        toml_unsupported_character("\xe0"
                                   "a\xcb\x9a"));  // resynchronises after a bad lead
}

TEST_CASE("proxy/toml_guard: a config with such a character is a ConfigError") {
    proxy::Config c;
    CHECK_THROWS_WITH_AS(proxy::apply_toml(c, "cache_dir = \"caf\xc3\xa9\"", "x.toml"),
                         doctest::Contains("U+00E9"), proxy::ConfigError);
    CHECK_THROWS_AS(proxy::apply_toml(c, "a = \xcb\x9a\n", "x.toml"), proxy::ConfigError);
    proxy::apply_toml(c, "cache_dir = \"caf\\u00e9\"", "x.toml");
    CHECK(c.cache_dir == "caf\xc3\xa9");
}

// docs/fuzzing.md finding 6: value<int64_t>() on a float casts before its range check.
TEST_CASE("proxy/toml_guard: integer_value never converts an out-of-range float") {
    auto value = [](const char* text) {
        toml::table t = toml::parse(text);
        return proxy::integer_value(*t.get("a"));
    };
    CHECK(value("a = 7") == 7);
    CHECK(value("a = -9223372036854775808") == INT64_MIN);
    CHECK(value("a = 3.0") == 3);
    CHECK(value("a = -0.0") == 0);
    CHECK_FALSE(value("a = 3.5"));
    CHECK_FALSE(value("a = 1e300"));
    CHECK_FALSE(value("a = -1e300"));
    CHECK_FALSE(value("a = 9.2233720368547758e18"));  // 2^63
    CHECK_FALSE(value("a = inf"));
    CHECK_FALSE(value("a = nan"));
    CHECK_FALSE(value("a = 'x'"));
    CHECK_FALSE(value("a = [1]"));
}

TEST_CASE("proxy/toml_guard: huge floats in integer settings are ConfigErrors") {
    for (const char* text :
         {"cache_size = 1e300", "max_connections = 1e300", "retry_max_attempts = -1e300",
          "connect_ports = [1e300]", "high_water_mark = 1e300", "max_header_size = -1e300"}) {
        CAPTURE(text);
        proxy::Config c;
        CHECK_THROWS_AS(proxy::apply_toml(c, text, "x.toml"), proxy::ConfigError);
    }
    proxy::Config c;
    proxy::apply_toml(c, "max_connections = 100.0\nconnect_ports = [443.0]", "x.toml");
    CHECK(c.max_connections == 100);
    CHECK(c.connect_ports == std::vector<uint16_t>{443});
}

TEST_CASE("proxy/toml_guard: rendered strings are escaped and parse back to the same value") {
    CHECK(proxy::toml_basic_string("plain/path") == "\"plain/path\"");
    CHECK(proxy::toml_basic_string("a\"b\\c\td\n") == "\"a\\\"b\\\\c\\td\\n\"");
    CHECK(proxy::toml_basic_string("\xc3\xa9") == "\"\\u00E9\"");
    CHECK(proxy::toml_basic_string("\xf0\x9f\x98\x80") == "\"\\U0001F600\"");
    CHECK(proxy::toml_basic_string(std::string("\x01\x7f", 2)) == "\"\\u0001\\u007F\"");
    CHECK(proxy::toml_basic_string("\xff") == "\"\\uFFFD\"");                        // not UTF-8
    CHECK(proxy::toml_basic_string("\xc0\xaf") == "\"\\uFFFD\\uFFFD\"");             // overlong '/'
    CHECK(proxy::toml_basic_string("\xed\xa0\x80") == "\"\\uFFFD\\uFFFD\\uFFFD\"");  // surrogate
    // fuzz finding 9: a cache_dir with a tab and U+00E9 rendered raw was refused on reading.
    for (std::string value : {std::string("/var/cach\"quoted\" \t \xc3\xa9"),
                              std::string("\xcb\x9a"), std::string("x\\y'z")}) {
        CAPTURE(value);
        proxy::Config c;
        c.cache_dir = value;
        proxy::Config again;
        proxy::apply_toml(again, c.to_toml(), "rendered.toml");
        CHECK(again.cache_dir == value);
    }
}
