#include "policy/cache_control.h"

#include <doctest/doctest.h>

using namespace policy;

TEST_CASE("policy/cache_control: directives") {
    auto cc = parse_cache_control(
        "max-age=60, s-maxage=\"120\", NO-CACHE, no-store, private, public, must-revalidate, "
        "proxy-revalidate, max-stale=5, min-fresh=7, only-if-cached, immutable, no-transform, "
        "x-unknown=\"a, b\", community=UCI");
    CHECK(cc.max_age == 60u);
    CHECK(cc.s_maxage == 120u);
    CHECK(cc.no_cache);
    CHECK(cc.no_cache_fields.empty());
    CHECK(cc.no_store);
    CHECK(cc.is_private);
    CHECK(cc.is_public);
    CHECK(cc.must_revalidate);
    CHECK(cc.proxy_revalidate);
    CHECK(cc.max_stale == 5u);
    CHECK_FALSE(cc.max_stale_any);
    CHECK(cc.min_fresh == 7u);
    CHECK(cc.only_if_cached);
    CHECK(cc.immutable);
    CHECK(cc.no_transform);
    CHECK_FALSE(cc.invalid_freshness);
    CHECK_FALSE(cc.malformed);
    CHECK_FALSE(cc.empty());
    CHECK(parse_cache_control("").empty());
    CHECK(parse_cache_control(" , ,").empty());
    CHECK(parse_cache_control("x-foo, bar=1").empty());
}

TEST_CASE("policy/cache_control: qualified no-cache and private") {
    auto cc = parse_cache_control("no-cache=\"Set-Cookie, X-Foo\", private=Authorization");
    CHECK(cc.no_cache);
    CHECK(cc.no_cache_fields == std::vector<std::string>{"set-cookie", "x-foo"});
    CHECK(cc.is_private);
    CHECK(cc.private_fields == std::vector<std::string>{"authorization"});
    CHECK_FALSE(cc.malformed);
}

TEST_CASE("policy/cache_control: delta-seconds, duplicates and malformed numbers") {
    struct Row {
        const char* in;
        std::optional<uint64_t> max_age;
        bool invalid_freshness;
        bool malformed;
    };
    const Row rows[] = {
        {"max-age=0", 0u, false, false},
        {"max-age=\"30\"", 30u, false, false},
        {"max-age = 30", 30u, false, false},
        {"max-age=2147483648", kDeltaSecondsMax, false, false},
        {"max-age=99999999999999999999999999", kDeltaSecondsMax, false, false},
        {"max-age=10, max-age=10", 10u, false, false},
        {"max-age=10, max-age=20", 10u, true, false},
        {"max-age=-1", std::nullopt, true, false},
        {"max-age=1.5", std::nullopt, true, false},
        {"max-age=", std::nullopt, true, false},
        {"max-age", std::nullopt, true, false},
        {"max-age=abc", std::nullopt, true, false},
        {"max-age=0x10", std::nullopt, true, false},
        {"max-age=\"\"", std::nullopt, true, false},
        {"max-age=\"10", std::nullopt, true, true},
        {"max-age=\"10\"x", std::nullopt, true, true},
        {"max-age=10, private=\"unterminated", std::nullopt, true, true},
    };
    for (const auto& row : rows) {
        INFO(std::string(row.in));
        auto cc = parse_cache_control(row.in);
        CHECK(cc.max_age == row.max_age);
        CHECK(cc.invalid_freshness == row.invalid_freshness);
        CHECK(cc.malformed == row.malformed);
    }
    CHECK(parse_cache_control("max-stale").max_stale_any);
    CHECK_FALSE(parse_cache_control("max-stale").max_stale);
    CHECK(parse_cache_control("max-stale=abc").invalid_freshness);
    CHECK(parse_cache_control("s-maxage=1, s-maxage=2").invalid_freshness);
    CHECK(parse_cache_control("min-fresh=x").invalid_freshness);
}

TEST_CASE("policy/cache_control: several fields form one list") {
    HeaderList h = {{"Cache-Control", "max-age=10"},
                    {"Content-Type", "text/plain"},
                    {"cache-control", "no-store"},
                    {"Cache-Control", "max-age=20"}};
    auto cc = parse_cache_control(h);
    CHECK(cc.max_age == 10u);
    CHECK(cc.no_store);
    CHECK(cc.invalid_freshness);
    CHECK(parse_cache_control(HeaderList{}).empty());
}
