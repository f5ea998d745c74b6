#include "policy/fallback_source.h"

#include <doctest/doctest.h>

using policy::ContentFacts;
using policy::SameContent;
using policy::Validator;

namespace {

policy::RequestTarget target(const char* url) {
    auto t = policy::parse_absolute_target(url, true);
    REQUIRE(t);
    return *t;
}

}  // namespace

TEST_CASE("policy/fallback_source: configuration entries") {
    auto a = policy::parse_fallback_source("huggingface.co = https://hf-mirror.example");
    REQUIRE(a);
    CHECK(a->host == "huggingface.co");
    CHECK(a->base.url() == "https://hf-mirror.example/");
    auto b = policy::parse_fallback_source(" HF.co=http://10.0.0.5:8080/hf/ ");
    REQUIRE(b);
    CHECK(b->host == "hf.co");
    CHECK(b->base.url() == "http://10.0.0.5:8080/hf");  // trailing '/' dropped

    const char* bad[] = {
        "huggingface.co",                                  // no '='
        "= https://m.example",                             // no host
        "huggingface.co/x = https://m.example",            // not a host name
        "huggingface.co = ftp://m.example",                // not http(s)
        "huggingface.co = https://m.example/?sig=1",       // a query
        "huggingface.co = https://huggingface.co/mirror",  // itself
    };
    for (const char* text : bad) {
        CAPTURE(text);
        CHECK_FALSE(policy::parse_fallback_source(text));
    }
}

TEST_CASE("policy/fallback_source: the URL on each source keeps path and query") {
    std::vector<policy::FallbackSource> sources = {
        *policy::parse_fallback_source("huggingface.co = https://hf-mirror.example"),
        *policy::parse_fallback_source("huggingface.co = http://10.0.0.5:8080/hf"),
        *policy::parse_fallback_source("example.org = https://mirror.example.net/eo"),
    };
    auto t = policy::fallback_targets(
        target("https://huggingface.co/org/m/resolve/main/a.bin?download=true"), sources);
    REQUIRE(t.size() == 2);
    CHECK(t[0].url() == "https://hf-mirror.example/org/m/resolve/main/a.bin?download=true");
    CHECK(t[1].url() == "http://10.0.0.5:8080/hf/org/m/resolve/main/a.bin?download=true");
    CHECK(policy::fallback_targets(target("https://cdn-lfs.hf.co/x"), sources).empty());
    // A request already on a source gets no further fallback (no chains, no loops).
    CHECK(policy::fallback_targets(target("https://hf-mirror.example/org/m/resolve/main/a.bin"),
                                   sources)
              .empty());
}

TEST_CASE("policy/fallback_source: same content (RFC 9110 §8.8.1: strong validators only)") {
    const std::string sha_a(64, 'a'), sha_b(64, 'b');
    const Validator etag1{Validator::Kind::ETag, "\"v1\""};
    const Validator etag2{Validator::Kind::ETag, "\"v2\""};
    struct Row {
        const char* what;
        ContentFacts stored, source;
        SameContent want;
    };
    const Row rows[] = {
        {"same sha256", {100, sha_a, etag1}, {100, sha_a, etag2}, SameContent::Yes},
        {"same sha256, source length unknown", {100, sha_a, {}}, {{}, sha_a, {}}, SameContent::Yes},
        {"other sha256", {100, sha_a, etag1}, {100, sha_b, etag1}, SameContent::No},
        {"other length", {100, sha_a, etag1}, {101, sha_a, etag1}, SameContent::No},
        {"same length and validator", {100, "", etag1}, {100, "", etag1}, SameContent::Yes},
        {"same length, other validator", {100, "", etag1}, {100, "", etag2}, SameContent::Unknown},
        {"sha256 on one side only", {100, sha_a, etag1}, {100, "", etag2}, SameContent::Unknown},
        {"same validator, no lengths", {{}, "", etag1}, {{}, "", etag1}, SameContent::Unknown},
        {"nothing known", {}, {}, SameContent::Unknown},
    };
    for (const Row& r : rows) {
        CAPTURE(r.what);
        CHECK(policy::same_content(r.stored, r.source) == r.want);
    }
}

TEST_CASE("policy/fallback_source: what a source's answer says about its object") {
    const std::string sha(64, 'c');
    struct Row {
        const char* what;
        int status;
        policy::HeaderList headers;
        std::optional<uint64_t> length;
        std::string sha256;
        std::optional<std::string> etag;
    };
    const Row rows[] = {
        {"206: the complete length of Content-Range",
         206,
         {{"Content-Range", "bytes 10-19/100"}, {"Content-Length", "10"}, {"ETag", "\"e1\""}},
         100,
         "",
         "\"e1\""},
        {"206 with an unknown length", 206, {{"Content-Range", "bytes 10-19/*"}}, {}, "", {}},
        {"200: Content-Length", 200, {{"Content-Length", "100"}}, 100, "", {}},
        {"200 chunked: no length",
         200,
         {{"Transfer-Encoding", "chunked"}, {"Content-Length", "100"}},
         {},
         "",
         {}},
        {"weak ETag: no validator",
         200,
         {{"Content-Length", "5"}, {"ETag", "W/\"e1\""}},
         5,
         "",
         {}},
        {"strong Last-Modified: not a validator across servers",
         200,
         {{"Content-Length", "5"},
          {"Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT"},
          {"Date", "Tue, 02 Jan 2024 00:00:00 GMT"}},
         5,
         "",
         {}},
        {"X-Linked-Etag announces a sha256",
         200,
         {{"Content-Length", "5"}, {"X-Linked-Etag", "\"" + sha + "\""}},
         5,
         sha,
         {}},
    };
    for (const Row& r : rows) {
        CAPTURE(r.what);
        ContentFacts f = policy::source_facts(r.status, r.headers);
        CHECK(f.length == r.length);
        CHECK(f.sha256 == r.sha256);
        CHECK(f.validator.has_value() == r.etag.has_value());
        if (f.validator && r.etag) CHECK(f.validator->value == *r.etag);
    }
}

TEST_CASE("policy/fallback_source: a source never sees the original host's credentials") {
    const policy::HeaderList client = {
        {"Host", "huggingface.co"},  {"Authorization", "Bearer hf_secret"},
        {"Cookie", "session=1"},     {"Proxy-Authorization", "Basic eDp5"},
        {"Connection", "X-Hop"},     {"X-Hop", "1"},
        {"Range", "bytes=0-"},       {"If-Range", "\"e1\""},
        {"If-None-Match", "\"e1\""}, {"User-Agent", "huggingface_hub/0.30"},
        {"Accept", "*/*"},
    };
    std::vector<std::string> kept;
    for (const auto& h : policy::fallback_request_headers(client))
        kept.push_back(h.name + ": " + h.value);
    const std::vector<std::string> want = {"User-Agent: huggingface_hub/0.30", "Accept: */*"};
    CHECK(kept == want);
}
