#include "policy/validation.h"

#include <doctest/doctest.h>

using namespace policy;

namespace {

const char* kLm = "Sun, 06 Nov 1994 08:49:37 GMT";
const char* kLmOld = "Sat, 05 Nov 1994 08:49:37 GMT";
const char* kLmNew = "Mon, 07 Nov 1994 08:49:37 GMT";
const char* kDate = "Sun, 06 Nov 1994 09:00:00 GMT";  // 623 s after kLm: strong

}  // namespace

TEST_CASE("policy/validation: conditional_headers") {
    struct Row {
        const char* name;
        HeaderList stored;
        HeaderList expected;
    };
    const Row rows[] = {
        {"both",
         {{"ETag", " \"v1\" "}, {"Last-Modified", kLm}},
         {{"If-None-Match", "\"v1\""}, {"If-Modified-Since", kLm}}},
        {"weak etag is fine for If-None-Match",
         {{"ETag", "W/\"v1\""}},
         {{"If-None-Match", "W/\"v1\""}}},
        {"unquoted etag dropped",
         {{"ETag", "v1"}, {"Last-Modified", kLm}},
         {{"If-Modified-Since", kLm}}},
        {"garbage date dropped", {{"Last-Modified", "yesterday"}}, {}},
        {"none", {{"Content-Length", "5"}}, {}},
    };
    for (const auto& row : rows) {
        INFO(std::string(row.name));
        auto got = conditional_headers(row.stored);
        REQUIRE(got.size() == row.expected.size());
        for (size_t i = 0; i < got.size(); ++i) {
            CHECK(got[i].name == row.expected[i].name);
            CHECK(got[i].value == row.expected[i].value);
        }
    }
}

TEST_CASE("policy/validation: matches_304") {
    HeaderList stored = {{"ETag", "\"v1\""}, {"Last-Modified", kLm}};
    struct Row {
        const char* name;
        HeaderList r304;
        bool expected;
    };
    const Row rows[] = {
        {"same etag", {{"ETag", "\"v1\""}}, true},
        {"other etag", {{"ETag", "\"v2\""}}, false},
        {"weak etag falls to Last-Modified", {{"ETag", "W/\"v2\""}, {"Last-Modified", kLm}}, true},
        {"same Last-Modified, other format",
         {{"Last-Modified", "Sunday, 06-Nov-94 08:49:37 GMT"}},
         true},
        {"other Last-Modified", {{"Last-Modified", kLmNew}}, false},
        {"garbage Last-Modified", {{"Last-Modified", "x"}}, false},
        {"no validators", {{"Cache-Control", "max-age=5"}}, true},
    };
    for (const auto& row : rows) {
        INFO(std::string(row.name));
        CHECK(matches_304(stored, row.r304) == row.expected);
    }
    CHECK_FALSE(matches_304({}, {{"ETag", "\"v1\""}}));
}

TEST_CASE("policy/validation: merge_304") {
    HeaderList stored = {{"Content-Type", "text/plain"},
                         {"Cache-Control", "max-age=10"},
                         {"X-Multi", "a"},
                         {"Content-Length", "100"},
                         {"X-Multi", "b"},
                         {"ETag", "\"v1\""}};
    HeaderList r304 = {{"cache-control", "max-age=3600"},
                       {"Content-Length", "0"},
                       {"Connection", "keep-alive, X-Hop"},
                       {"X-Hop", "1"},
                       {"Transfer-Encoding", "chunked"},
                       {"X-Multi", "c"},
                       {"X-Multi", "d"},
                       {"Set-Cookie", "s=1"},
                       {"Content-Range", "bytes 0-0/1"},
                       {"Date", kDate}};
    HeaderList merged = merge_304(stored, r304);
    const HeaderList expected = {{"Content-Type", "text/plain"},
                                 {"cache-control", "max-age=3600"},
                                 {"X-Multi", "c"},
                                 {"X-Multi", "d"},
                                 {"Content-Length", "100"},
                                 {"ETag", "\"v1\""},
                                 {"Date", kDate}};
    REQUIRE(merged.size() == expected.size());
    for (size_t i = 0; i < merged.size(); ++i) {
        INFO(i);
        CHECK(merged[i].name == expected[i].name);
        CHECK(merged[i].value == expected[i].value);
    }
    CHECK(merge_304({}, {}).empty());
    CHECK(merge_304(stored, {}).size() == stored.size());
}

TEST_CASE("policy/validation: evaluate_preconditions (RFC 9110 §13.2.2)") {
    using O = PreconditionOutcome;
    const HeaderList stored = {{"ETag", "\"v1\""}, {"Last-Modified", kLm}, {"Date", kDate}};
    const HeaderList weak_lm = {{"ETag", "\"v1\""}, {"Last-Modified", kLm}, {"Date", kLm}};
    const HeaderList no_lm = {{"ETag", "\"v1\""}, {"Date", kDate}};
    struct Row {
        const char* name;
        std::string method;
        HeaderList request;
        HeaderList stored;
        O expected;
    };
    const Row rows[] = {
        {"no conditions", "GET", {}, stored, O::Full},
        {"range alone", "GET", {{"Range", "bytes=0-1"}}, stored, O::RangeAllowed},
        {"range on HEAD is ignored", "HEAD", {{"Range", "bytes=0-1"}}, stored, O::Full},
        {"If-None-Match hit", "GET", {{"If-None-Match", "\"x\", \"v1\""}}, stored, O::NotModified},
        {"If-None-Match weak hit", "GET", {{"If-None-Match", "W/\"v1\""}}, stored, O::NotModified},
        {"If-None-Match star", "HEAD", {{"If-None-Match", "*"}}, stored, O::NotModified},
        {"If-None-Match miss", "GET", {{"If-None-Match", "\"v2\""}}, stored, O::Full},
        {"If-None-Match garbage", "GET", {{"If-None-Match", "v1"}}, stored, O::Full},
        {"If-None-Match beats If-Modified-Since",
         "GET",
         {{"If-None-Match", "\"v2\""}, {"If-Modified-Since", kLmNew}},
         stored,
         O::Full},
        {"If-None-Match hit on POST",
         "POST",
         {{"If-None-Match", "\"v1\""}},
         stored,
         O::PreconditionFailed},
        {"If-Modified-Since equal", "GET", {{"If-Modified-Since", kLm}}, stored, O::NotModified},
        {"If-Modified-Since later", "GET", {{"If-Modified-Since", kLmNew}}, stored, O::NotModified},
        {"If-Modified-Since earlier", "GET", {{"If-Modified-Since", kLmOld}}, stored, O::Full},
        {"If-Modified-Since garbage", "GET", {{"If-Modified-Since", "0"}}, stored, O::Full},
        {"If-Modified-Since uses Date without Last-Modified",
         "GET",
         {{"If-Modified-Since", kDate}},
         no_lm,
         O::NotModified},
        {"If-Match hit", "GET", {{"If-Match", "\"v1\""}}, stored, O::Full},
        {"If-Match star", "GET", {{"If-Match", "*"}}, stored, O::Full},
        {"If-Match weak never matches",
         "GET",
         {{"If-Match", "W/\"v1\""}},
         stored,
         O::PreconditionFailed},
        {"If-Match miss", "GET", {{"If-Match", "\"v2\""}}, stored, O::PreconditionFailed},
        {"If-Match garbage", "GET", {{"If-Match", "garbage"}}, stored, O::PreconditionFailed},
        {"If-Match beats If-Unmodified-Since",
         "GET",
         {{"If-Match", "\"v1\""}, {"If-Unmodified-Since", kLmOld}},
         stored,
         O::Full},
        {"If-Unmodified-Since ok", "GET", {{"If-Unmodified-Since", kLm}}, stored, O::Full},
        {"If-Unmodified-Since failed",
         "GET",
         {{"If-Unmodified-Since", kLmOld}},
         stored,
         O::PreconditionFailed},
        {"If-Unmodified-Since without Last-Modified",
         "GET",
         {{"If-Unmodified-Since", kLmOld}},
         no_lm,
         O::Full},
        {"If-Range etag match",
         "GET",
         {{"Range", "bytes=5-"}, {"If-Range", "\"v1\""}},
         stored,
         O::RangeAllowed},
        {"If-Range etag mismatch",
         "GET",
         {{"Range", "bytes=5-"}, {"If-Range", "\"v2\""}},
         stored,
         O::Full},
        {"If-Range weak etag",
         "GET",
         {{"Range", "bytes=5-"}, {"If-Range", "W/\"v1\""}},
         stored,
         O::Full},
        {"If-Range date match",
         "GET",
         {{"Range", "bytes=5-"}, {"If-Range", kLm}},
         stored,
         O::RangeAllowed},
        {"If-Range date, weak Last-Modified",
         "GET",
         {{"Range", "bytes=5-"}, {"If-Range", kLm}},
         weak_lm,
         O::Full},
        {"If-Range other date",
         "GET",
         {{"Range", "bytes=5-"}, {"If-Range", kLmNew}},
         stored,
         O::Full},
        {"If-Range garbage",
         "GET",
         {{"Range", "bytes=5-"}, {"If-Range", "garbage"}},
         stored,
         O::Full},
        {"If-Range without Range", "GET", {{"If-Range", "\"v1\""}}, stored, O::Full},
        {"304 before range",
         "GET",
         {{"Range", "bytes=5-"}, {"If-None-Match", "\"v1\""}},
         stored,
         O::NotModified},
    };
    for (const auto& row : rows) {
        INFO(std::string(row.name));
        auto got = evaluate_preconditions(row.method, row.request, row.stored);
        CHECK(got == row.expected);
        CHECK_FALSE(to_string(got).empty());
    }
}
