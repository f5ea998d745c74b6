#include "policy/entity_tag.h"

#include <doctest/doctest.h>

#include <string>

using namespace policy;

TEST_CASE("policy/entity_tag: parse one tag") {
    struct Row {
        const char* in;
        bool ok;
        bool weak;
        const char* opaque;
    };
    const Row rows[] = {
        {"\"xyzzy\"", true, false, "xyzzy"},
        {"W/\"xyzzy\"", true, true, "xyzzy"},
        {" \"a,b\" ", true, false, "a,b"},
        {"\"\"", true, false, ""},
        {"\"caf\xc3\xa9\"", true, false, "caf\xc3\xa9"},  // obs-text
        {"xyzzy", false, false, ""},
        {"w/\"x\"", false, false, ""},
        {"W/x", false, false, ""},
        {"\"x", false, false, ""},
        {"\"x\"y", false, false, ""},
        {"\"x\" \"y\"", false, false, ""},
        {"\"a b\"", false, false, ""},
        {"\"a\\\"", true, false, "a\\"},  // no escapes in an entity-tag
        {"\"a\x01\"", false, false, ""},
        {"", false, false, ""},
        {"W/", false, false, ""},
    };
    for (const auto& row : rows) {
        INFO(std::string(row.in));
        auto tag = parse_entity_tag(row.in);
        REQUIRE(tag.has_value() == row.ok);
        if (!tag) continue;
        CHECK(tag->weak == row.weak);
        CHECK(tag->opaque == row.opaque);
    }
}

TEST_CASE("policy/entity_tag: strong and weak comparison (RFC 9110 §8.8.3.2 table)") {
    struct Row {
        const char* a;
        const char* b;
        bool strong;
        bool weak;
    };
    const Row rows[] = {
        {"W/\"1\"", "W/\"1\"", false, true},
        {"W/\"1\"", "W/\"2\"", false, false},
        {"W/\"1\"", "\"1\"", false, true},
        {"\"1\"", "\"1\"", true, true},
    };
    for (const auto& row : rows) {
        INFO((std::string(row.a) + " vs " + row.b));
        auto a = parse_entity_tag(row.a);
        auto b = parse_entity_tag(row.b);
        REQUIRE(a);
        REQUIRE(b);
        CHECK(strong_match(*a, *b) == row.strong);
        CHECK(weak_match(*a, *b) == row.weak);
    }
}

TEST_CASE("policy/entity_tag: lists") {
    auto any = parse_entity_tag_list(" * ");
    REQUIRE(any);
    CHECK(any->any);
    auto list = parse_entity_tag_list("\"a,b\", W/\"c\",,\"d\" ");
    REQUIRE(list);
    CHECK_FALSE(list->any);
    REQUIRE(list->tags.size() == 3);
    CHECK(list->tags[0].opaque == "a,b");
    CHECK(list->tags[1].weak);
    CHECK(list->tags[2].opaque == "d");
    const char* bad[] = {"", ",", "*, \"a\"", "\"a\" \"b\"", "\"a\", b", "\"a", "**"};
    for (const char* b : bad) {
        INFO(std::string(b));
        CHECK_FALSE(parse_entity_tag_list(b));
    }
}
