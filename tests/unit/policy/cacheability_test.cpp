#include "policy/cacheability.h"

#include <doctest/doctest.h>

using namespace policy;

namespace {

const HeaderList kOk = {{"Content-Length", "10"}, {"ETag", "\"v1\""}};
const HeaderList kFresh = {{"Content-Length", "10"}, {"Cache-Control", "max-age=60"}};

HeaderList with(HeaderList h, std::initializer_list<Header> more) {
    h.insert(h.end(), more);
    return h;
}

}  // namespace

TEST_CASE("policy/cacheability: decide_storable") {
    struct Row {
        const char* name;
        std::string method;
        HeaderList request;
        int status;
        HeaderList response;
        StoreReason expected;
    };
    const Row rows[] = {
        {"plain 200", "GET", {}, 200, kOk, StoreReason::Storable},
        {"HEAD", "HEAD", {}, 200, kOk, StoreReason::MethodNotGet},
        {"lower-case get", "get", {}, 200, kOk, StoreReason::MethodNotGet},
        {"POST", "POST", {}, 200, kOk, StoreReason::MethodNotGet},
        {"206", "GET", {}, 206, kOk, StoreReason::StatusNotStorable},
        {"304", "GET", {}, 304, kOk, StoreReason::StatusNotStorable},
        {"302", "GET", {}, 302, kOk, StoreReason::StatusNotStorable},
        // RFC 9110 §15.1 / RFC 9111 §4.2.2: heuristically cacheable statuses are stored as they
        // are. RFC 9110 §15.1 / RFC 9111 §4.2.2: heuristically cacheable statuses, with a lifetime.
        {"203", "GET", {}, 203, kFresh, StoreReason::Storable},
        {"301", "GET", {}, 301, kFresh, StoreReason::Storable},
        {"308", "GET", {}, 308, kFresh, StoreReason::Storable},
        {"404", "GET", {}, 404, kFresh, StoreReason::Storable},
        {"410", "GET", {}, 410, kFresh, StoreReason::Storable},
        {"501", "GET", {}, 501, kFresh, StoreReason::Storable},
        {"404 heuristic lifetime (10% of Date - Last-Modified)",
         "GET",
         {},
         404,
         with(kOk, {{"Date", "Sun, 06 Nov 1994 08:49:37 GMT"},
                    {"Last-Modified", "Sat, 05 Nov 1994 08:49:37 GMT"}}),
         StoreReason::Storable},
        // Never fresh: stored, it could only ever be fetched again in full.
        {"404 without a lifetime", "GET", {}, 404, kOk, StoreReason::NeverFresh},
        // RFC 9110 §15.3.5: a 204 has no content, so its length is known without Content-Length.
        {"204 without Content-Length",
         "GET",
         {},
         204,
         {{"Cache-Control", "max-age=60"}},
         StoreReason::Storable},
        {"200 without Content-Length",
         "GET",
         {},
         200,
         {{"Cache-Control", "max-age=60"}},
         StoreReason::LengthUnknown},
        {"404 max-age=0",
         "GET",
         {},
         404,
         with(kOk, {{"Cache-Control", "max-age=0"}}),
         StoreReason::NeverFresh},
        {"200 without a lifetime is stored", "GET", {}, 200, kOk, StoreReason::Storable},
        // RFC 9111 §3: other final statuses need explicit freshness or public.
        {"201", "GET", {}, 201, kOk, StoreReason::StatusNotStorable},
        {"403", "GET", {}, 403, kOk, StoreReason::StatusNotStorable},
        {"500", "GET", {}, 500, kOk, StoreReason::StatusNotStorable},
        {"302 max-age",
         "GET",
         {},
         302,
         with(kOk, {{"Cache-Control", "max-age=60"}}),
         StoreReason::Storable},
        {"500 s-maxage",
         "GET",
         {},
         500,
         with(kOk, {{"Cache-Control", "s-maxage=60"}}),
         StoreReason::Storable},
        {"400 Expires",
         "GET",
         {},
         400,
         with(kOk, {{"Expires", "Sun, 06 Nov 1994 08:49:37 GMT"},
                    {"Date", "Sun, 06 Nov 1994 07:49:37 GMT"}}),
         StoreReason::Storable},
        {"400 Expires in the past",
         "GET",
         {},
         400,
         with(kOk, {{"Expires", "Sun, 06 Nov 1994 08:49:37 GMT"},
                    {"Date", "Sun, 06 Nov 1994 09:49:37 GMT"}}),
         StoreReason::NeverFresh},
        {"599 public, max-age",
         "GET",
         {},
         599,
         with(kOk, {{"Cache-Control", "public, max-age=5"}}),
         StoreReason::Storable},
        {"599 public, no lifetime",
         "GET",
         {},
         599,
         with(kOk, {{"Cache-Control", "public"}}),
         StoreReason::NeverFresh},
        {"599 no-store",
         "GET",
         {},
         599,
         with(kOk, {{"Cache-Control", "max-age=60, no-store, must-understand"}}),
         StoreReason::ResponseNoStore},
        {"1xx never",
         "GET",
         {},
         103,
         with(kOk, {{"Cache-Control", "max-age=60"}}),
         StoreReason::StatusNotStorable},
        {"206 never, even with max-age",
         "GET",
         {},
         206,
         with(kOk, {{"Cache-Control", "max-age=60"}}),
         StoreReason::StatusNotStorable},
        {"request no-store",
         "GET",
         {{"Cache-Control", "no-store"}},
         200,
         kOk,
         StoreReason::RequestNoStore},
        {"request no-cache is fine",
         "GET",
         {{"Cache-Control", "no-cache"}},
         200,
         kOk,
         StoreReason::Storable},
        {"response no-store",
         "GET",
         {},
         200,
         with(kOk, {{"Cache-Control", "max-age=5, NO-STORE"}}),
         StoreReason::ResponseNoStore},
        {"response malformed",
         "GET",
         {},
         200,
         with(kOk, {{"Cache-Control", "max-age=\"5"}}),
         StoreReason::MalformedCacheControl},
        {"private",
         "GET",
         {},
         200,
         with(kOk, {{"Cache-Control", "private"}}),
         StoreReason::Private},
        {"qualified private",
         "GET",
         {},
         200,
         with(kOk, {{"Cache-Control", "private=\"Set-Cookie\""}}),
         StoreReason::Private},
        {"response no-cache is storable",
         "GET",
         {},
         200,
         with(kOk, {{"Cache-Control", "no-cache"}}),
         StoreReason::Storable},
        {"authorization alone",
         "GET",
         {{"Authorization", "Bearer x"}},
         200,
         kOk,
         StoreReason::Authorization},
        {"authorization + public",
         "GET",
         {{"Authorization", "Bearer x"}},
         200,
         with(kOk, {{"Cache-Control", "public"}}),
         StoreReason::Storable},
        {"authorization + s-maxage",
         "GET",
         {{"Authorization", "Bearer x"}},
         200,
         with(kOk, {{"Cache-Control", "s-maxage=60"}}),
         StoreReason::Storable},
        {"authorization + must-revalidate",
         "GET",
         {{"Authorization", "Bearer x"}},
         200,
         with(kOk, {{"Cache-Control", "must-revalidate"}}),
         StoreReason::Storable},
        {"authorization + max-age",
         "GET",
         {{"Authorization", "Bearer x"}},
         200,
         with(kOk, {{"Cache-Control", "max-age=60"}}),
         StoreReason::Authorization},
        {"proxy-authorization is not authorization",
         "GET",
         {{"Proxy-Authorization", "Basic x"}},
         200,
         kOk,
         StoreReason::Storable},
        {"vary accept-encoding",
         "GET",
         {},
         200,
         with(kOk, {{"Vary", "Accept-Encoding"}}),
         StoreReason::Storable},
        {"vary accept-encoding, identity",
         "GET",
         {},
         200,
         with(kOk, {{"Vary", "accept-encoding"}, {"Content-Encoding", "identity"}}),
         StoreReason::Storable},
        {"vary accept-encoding, gzip",
         "GET",
         {},
         200,
         with(kOk, {{"Vary", "Accept-Encoding"}, {"Content-Encoding", "gzip"}}),
         StoreReason::Storable},  // RFC 9111 §4.1: stored as the variant of its Accept-Encoding
        {"gzip without vary",
         "GET",
         {},
         200,
         with(kOk, {{"Content-Encoding", "gzip"}}),
         StoreReason::Storable},
        {"vary star", "GET", {}, 200, with(kOk, {{"Vary", "*"}}), StoreReason::Vary},
        {"vary cookie",
         "GET",
         {},
         200,
         with(kOk, {{"Vary", "Accept-Encoding, Cookie"}}),
         StoreReason::Storable},  // §4.1: a variant keyed by the request's Cookie
        {"vary in two fields",
         "GET",
         {},
         200,
         with(kOk, {{"Vary", "Accept-Encoding"}, {"Vary", "Origin"}}),
         StoreReason::Storable},
        {"vary star among names (§4.1: never matches)",
         "GET",
         {},
         200,
         with(kOk, {{"Vary", "Foo"}, {"Vary", "*"}}),
         StoreReason::Vary},
        {"vary not a field name",
         "GET",
         {},
         200,
         with(kOk, {{"Vary", "Foo bar"}}),
         StoreReason::Vary},
        {"empty vary", "GET", {}, 200, with(kOk, {{"Vary", ""}}), StoreReason::Storable},
        {"content-range in 200",
         "GET",
         {},
         200,
         with(kOk, {{"Content-Range", "bytes 0-9/10"}}),
         StoreReason::ContentRangeIn200},
        {"no content-length", "GET", {}, 200, {{"ETag", "\"v\""}}, StoreReason::LengthUnknown},
        {"chunked",
         "GET",
         {},
         200,
         with(kOk, {{"Transfer-Encoding", "chunked"}}),
         StoreReason::LengthUnknown},
        {"bad content-length",
         "GET",
         {},
         200,
         {{"Content-Length", "ten"}},
         StoreReason::LengthUnknown},
        {"conflicting content-length",
         "GET",
         {},
         200,
         {{"Content-Length", "10"}, {"Content-Length", "11"}},
         StoreReason::LengthUnknown},
    };
    for (const auto& row : rows) {
        INFO(std::string(row.name));
        auto d = decide_storable(row.method, row.request, row.status, row.response);
        CHECK(d.reason == row.expected);
        CHECK(d.store == (row.expected == StoreReason::Storable));
        CHECK_FALSE(to_string(d.reason).empty());
    }
    CHECK(decide_storable("GET", {}, 200, {}, true).store);
    CHECK(decide_storable("GET", {}, 200, kOk, false).reason == StoreReason::LengthUnknown);
}

TEST_CASE("policy/cacheability: content_length") {
    struct Row {
        HeaderList h;
        std::optional<uint64_t> expected;
    };
    const Row rows[] = {
        {{{"Content-Length", "0"}}, 0u},
        {{{"content-length", " 42 "}}, 42u},
        {{{"Content-Length", "42, 42"}}, 42u},
        {{{"Content-Length", "42"}, {"Content-Length", "42"}}, 42u},
        {{{"Content-Length", "18446744073709551615"}}, UINT64_MAX},
        {{{"Content-Length", "18446744073709551616"}}, std::nullopt},
        {{{"Content-Length", "42, 43"}}, std::nullopt},
        {{{"Content-Length", "-1"}}, std::nullopt},
        {{{"Content-Length", ""}}, std::nullopt},
        {{{"Content-Length", "4 2"}}, std::nullopt},
        {{}, std::nullopt},
    };
    for (const auto& row : rows)
        CHECK(content_length(row.h) == row.expected);
    CHECK(has_known_length({{"Content-Length", "5"}}));
    CHECK(body_length(204, {}) == 0u);
    CHECK(body_length(200, {}) == std::nullopt);
    CHECK(body_length(200, {{"Content-Length", "7"}}) == 7u);
    CHECK(body_length(404, {{"Content-Length", "7"}, {"Transfer-Encoding", "chunked"}}) ==
          std::nullopt);
    CHECK_FALSE(has_known_length({{"Content-Length", "5"}, {"Transfer-Encoding", "gzip"}}));
}

TEST_CASE("policy/cacheability: headers_to_store") {
    HeaderList in = {{"Content-Length", "10"}, {"Connection", "X-Hop"},
                     {"X-Hop", "1"},           {"Set-Cookie", "a=1"},
                     {"set-cookie2", "b=2"},   {"Cache-Control", "no-cache=\"X-Token\""},
                     {"X-Token", "secret"},    {"Transfer-Encoding", "chunked"},
                     {"ETag", "\"v\""}};
    HeaderList out = headers_to_store(in);
    // RFC 9111 §3.1: hop-by-hop fields go; Set-Cookie stays; no-cache="X-Token" drops X-Token.
    REQUIRE(out.size() == 5);
    CHECK(out[0].name == "Content-Length");
    CHECK(out[1].name == "Set-Cookie");
    CHECK(out[2].name == "set-cookie2");
    CHECK(out[3].name == "Cache-Control");
    CHECK(out[4].name == "ETag");
    // §5.2.2.4: a qualified no-cache naming Set-Cookie keeps it out.
    HeaderList guarded = headers_to_store(
        {{"Set-Cookie", "a=1"}, {"Cache-Control", "max-age=60, no-cache=\"Set-Cookie\""}});
    REQUIRE(guarded.size() == 1);
    CHECK(guarded[0].name == "Cache-Control");
}

TEST_CASE("policy/cacheability: strong validators") {
    CHECK(is_strong_etag("\"abc\""));
    CHECK(is_strong_etag(" \"\" "));
    CHECK_FALSE(is_strong_etag("W/\"abc\""));
    CHECK_FALSE(is_strong_etag("abc"));
    CHECK_FALSE(is_strong_etag(""));

    using K = Validator::Kind;
    const char* lm = "Sun, 06 Nov 1994 08:49:37 GMT";
    struct Row {
        const char* name;
        HeaderList h;
        std::optional<Validator> expected;
    };
    const Row rows[] = {
        {"strong etag",
         {{"ETag", " \"v1\" "}, {"Last-Modified", lm}},
         Validator{K::ETag, "\"v1\""}},
        {"weak etag falls back to a strong Last-Modified",
         {{"ETag", "W/\"v1\""}, {"Last-Modified", lm}, {"Date", "Sun, 06 Nov 1994 08:50:37 GMT"}},
         Validator{K::LastModified, lm}},
        {"Last-Modified 59 s before Date is weak",
         {{"Last-Modified", lm}, {"Date", "Sun, 06 Nov 1994 08:50:36 GMT"}},
         std::nullopt},
        {"Last-Modified after Date",
         {{"Last-Modified", lm}, {"Date", "Sat, 05 Nov 1994 00:00:00 GMT"}},
         std::nullopt},
        {"Last-Modified without Date", {{"Last-Modified", lm}}, std::nullopt},
        {"garbage Last-Modified", {{"Last-Modified", "yesterday"}, {"Date", lm}}, std::nullopt},
        {"unquoted etag", {{"ETag", "v1"}}, std::nullopt},
        {"nothing", {}, std::nullopt},
    };
    for (const auto& row : rows) {
        INFO(std::string(row.name));
        CHECK(strong_validator(row.h) == row.expected);
    }
}

TEST_CASE("policy/cacheability: has_validator") {
    using K = Validator::Kind;
    Validator etag{K::ETag, "\"v1\""};
    Validator lm{K::LastModified, "Sun, 06 Nov 1994 08:49:37 GMT"};
    CHECK(has_validator({{"ETag", "\"v1\""}}, etag));
    CHECK_FALSE(has_validator({{"ETag", "W/\"v1\""}}, etag));
    CHECK_FALSE(has_validator({{"ETag", "\"v2\""}}, etag));
    CHECK_FALSE(has_validator({}, etag));
    CHECK(has_validator({{"Last-Modified", "Sunday, 06-Nov-94 08:49:37 GMT"}}, lm));
    CHECK_FALSE(has_validator({{"Last-Modified", "Sun, 06 Nov 1994 08:49:38 GMT"}}, lm));
    CHECK_FALSE(has_validator({{"Last-Modified", "garbage"}}, lm));
    CHECK_FALSE(has_validator({{"Last-Modified", "garbage"}}, {K::LastModified, "garbage"}));
}
