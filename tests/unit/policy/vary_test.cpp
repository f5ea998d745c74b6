#include "policy/vary.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace policy;

namespace {
using Names = std::vector<std::string>;
}  // namespace

TEST_CASE("policy/vary: vary_fields (RFC 9111 §4.1, RFC 9110 §12.5.5)") {
    struct Row {
        const char* name;
        HeaderList response;
        bool star;
        bool malformed;
        Names names;
    };
    const Row rows[] = {
        {"no vary", {}, false, false, {}},
        {"empty vary", {{"Vary", ""}}, false, false, {}},
        {"one field, lower-cased", {{"Vary", "Foo"}}, false, false, {"foo"}},
        {"list, sorted, deduplicated", {{"Vary", "Foo, Bar, foo"}}, false, false, {"bar", "foo"}},
        {"two lines combine (RFC 9110 §5.3)",
         {{"Vary", "Foo"}, {"Vary", "Bar"}},
         false,
         false,
         {"bar", "foo"}},
        {"star", {{"Vary", "*"}}, true, false, {}},
        {"star star on two lines", {{"Vary", "*"}, {"Vary", "*"}}, true, false, {}},
        {"empty member then star", {{"Vary", ", *"}}, true, false, {}},
        {"field then star", {{"Vary", "Foo, *"}}, true, false, {"foo"}},
        {"not a token", {{"Vary", "Foo Bar"}}, false, true, {}},
        // Identity is acceptable to every client: Accept-Encoding selects nothing then.
        {"accept-encoding, identity response", {{"Vary", "Accept-Encoding"}}, false, false, {}},
        {"accept-encoding, gzip response",
         {{"Vary", "Accept-Encoding, Foo"}, {"Content-Encoding", "gzip"}},
         false,
         false,
         {"accept-encoding", "foo"}},
        {"accept-encoding, explicit identity coding",
         {{"Vary", "Accept-Encoding"}, {"Content-Encoding", "identity"}},
         false,
         false,
         {}},
    };
    for (const auto& row : rows) {
        CAPTURE(row.name);
        VaryFields f = vary_fields(row.response);
        CHECK(f.star == row.star);
        CHECK(f.malformed == row.malformed);
        CHECK(f.names == row.names);
    }
}

TEST_CASE("policy/vary: normalised_field (RFC 9111 §4.1 normalisation)") {
    struct Row {
        const char* name;
        HeaderList request;
        const char* field;
        std::optional<std::string> expected;
    };
    const Row rows[] = {
        {"absent", {}, "Foo", std::nullopt},
        {"present but empty differs from absent", {{"Foo", ""}}, "foo", ""},
        {"trimmed members", {{"Foo", " 1, 2 "}}, "foo", "1,2"},
        {"no space", {{"Foo", "1,2"}}, "foo", "1,2"},
        {"lines combine (RFC 9110 §5.3)", {{"Foo", "1"}, {"foo", "2"}}, "Foo", "1,2"},
        {"unknown field keeps order", {{"Foo", "2, 1"}}, "foo", "2,1"},
        {"unknown field keeps case", {{"Foo", "A"}}, "foo", "A"},
        {"accept-language ignores order (RFC 9110 §12.5.4)",
         {{"Accept-Language", "en, de"}},
         "accept-language",
         "de,en"},
        {"accept-language ignores case",
         {{"Accept-Language", "eN, De"}},
         "Accept-Language",
         "de,en"},
        {"accept-language ignores spaces",
         {{"Accept-Language", " en ,   de"}},
         "accept-language",
         "de,en"},
        {"accept parameters without spaces",
         {{"Accept", "text/html; q=0.5, */*"}},
         "accept",
         "*/*,text/html;q=0.5"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.name);
        CHECK(normalised_field(row.request, row.field) == row.expected);
    }
}

TEST_CASE("policy/vary: variant_key and primary_key") {
    const std::string primary = "http://example.com/a";
    const Names fields = {"bar", "foo"};
    const std::string k1 = variant_key(primary, fields, {{"Foo", "1"}, {"Bar", "x"}});
    CHECK(k1 == "http://example.com/a\nvary: bar=x; foo=1;");
    CHECK(primary_key(k1) == primary);
    CHECK(primary_key(primary) == primary);
    // Absent and empty are different variants.
    CHECK(variant_key(primary, fields, {{"Foo", "1"}}) !=
          variant_key(primary, fields, {{"Foo", "1"}, {"Bar", ""}}));
    // Header order in the request does not matter; the field list is sorted by vary_fields.
    CHECK(variant_key(primary, fields, {{"Bar", "x"}, {"Foo", "1"}}) == k1);
    // A value holding the separators cannot alias another combination.
    CHECK(variant_key(primary, fields, {{"Bar", "x; foo=1"}}) !=
          variant_key(primary, fields, {{"Bar", "x"}, {"Foo", "1"}}));
    CHECK(variant_key(primary, {"foo"}, {{"Foo", "a\nb"}}).find('\n', primary.size() + 1) ==
          std::string::npos);
}

TEST_CASE("policy/vary: vary_matches (RFC 9111 §4.1)") {
    struct Row {
        const char* name;
        HeaderList stored_response;
        HeaderList stored_request;
        HeaderList request;
        bool matches;
    };
    const HeaderList foo = {{"Vary", "Foo"}};
    const HeaderList three = {{"Vary", "Foo, Bar, Baz"}};
    const Row rows[] = {
        {"no vary matches anything", {}, {{"Foo", "1"}}, {{"Foo", "2"}}, true},
        {"same value", foo, {{"Foo", "1"}}, {{"Foo", "1"}}, true},
        {"other value", foo, {{"Foo", "1"}}, {{"Foo", "2"}}, false},
        {"stored request omitted it", foo, {}, {{"Foo", "1"}}, false},
        {"new request omits it", foo, {{"Foo", "1"}}, {}, false},
        {"both omit it", foo, {}, {}, true},
        {"fields not in Vary do not count",
         foo,
         {{"Foo", "1"}, {"Other", "a"}},
         {{"Foo", "1"}, {"Other", "b"}},
         true},
        {"three-way match",
         three,
         {{"Foo", "1"}, {"Bar", "abc"}, {"Baz", "789"}},
         {{"Baz", "789"}, {"Foo", "1"}, {"Bar", "abc"}},
         true},
        {"three-way, one differs",
         three,
         {{"Foo", "1"}, {"Bar", "abc"}, {"Baz", "789"}},
         {{"Foo", "1"}, {"Bar", "abc"}, {"Baz", "780"}},
         false},
        {"combined lines equal one list",
         foo,
         {{"Foo", "1, 2"}},
         {{"Foo", "1"}, {"Foo", "2"}},
         true},
        {"star never matches", {{"Vary", "*"}}, {}, {}, false},
        {"star beside a field never matches",
         {{"Vary", "Foo, *"}},
         {{"Foo", "1"}},
         {{"Foo", "1"}},
         false},
    };
    for (const auto& row : rows) {
        CAPTURE(row.name);
        CHECK(vary_matches(row.stored_response, row.stored_request, row.request) == row.matches);
    }
}
