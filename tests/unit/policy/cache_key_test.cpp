#include "policy/cache_key.h"

#include <doctest/doctest.h>

#include <string>

using namespace policy;

namespace {

std::string key_of(std::string_view url) {
    auto target = parse_absolute_target(url, true);
    REQUIRE(target);
    return cache_key(*target);
}

}  // namespace

TEST_CASE("policy/cache_key: host_matches") {
    struct Row {
        const char* pattern;
        const char* host;
        bool expected;
    };
    const Row rows[] = {
        {"example.com", "example.com", true},
        {"example.com", "EXAMPLE.com.", true},
        {"example.com.", "example.com", true},
        {"example.com", "a.example.com", false},
        {"*.example.com", "a.example.com", true},
        {"*.example.com", "a.b.example.com", true},
        {"*.EXAMPLE.com", "A.example.COM", true},
        {"*.example.com", "example.com", false},
        {"*.example.com", ".example.com", false},
        {"*.example.com", "badexample.com", false},
        {"*.example.com", "example.com.evil.net", false},
        {"*.hf.co", "cas-bridge.xethub.hf.co", true},
        {"*", "anything.at.all", true},
        {"*", "", false},
        {"", "example.com", false},
        {"", "", false},
        {".", "example.com", false},
        {"*.", "example.com", true},  // "*" with a root dot
        {"a*.com", "abc.com", false},
        {"a*.com", "a*.com", true},
        {"*example.com", "aexample.com", false},
        {"::1", "::1", true},
    };
    for (const auto& row : rows) {
        INFO((std::string(row.pattern) + " ~ " + row.host));
        CHECK(host_matches(row.pattern, row.host) == row.expected);
    }
}

TEST_CASE("policy/cache_key: URL normalisation") {
    struct Row {
        const char* url;
        const char* expected;
    };
    const Row rows[] = {
        {"http://Example.COM/a", "http://example.com/a"},
        {"HTTP://example.com:80/a", "http://example.com/a"},
        {"https://example.com:443/a", "https://example.com/a"},
        {"http://example.com:443/a", "http://example.com:443/a"},
        {"https://example.com:80/a", "https://example.com:80/a"},
        {"http://example.com:8080/a", "http://example.com:8080/a"},
        {"http://example.com./a", "http://example.com/a"},
        {"http://example.com", "http://example.com/"},
        {"http://example.com?x=1", "http://example.com/?x=1"},
        {"http://example.com/a#frag", "http://example.com/a"},
        {"http://example.com/a?b=1#frag", "http://example.com/a?b=1"},
        {"http://example.com/%7euser/%2fx%2F%41", "http://example.com/~user/%2Fx%2FA"},
        {"http://example.com/%zz%4", "http://example.com/%25zz%254"},
        {"http://example.com/%", "http://example.com/%25"},
        {"http://example.com/a?", "http://example.com/a?"},
        {"http://example.com/a?b=1&a=2", "http://example.com/a?b=1&a=2"},
        {"http://example.com/a?Expires=1&Signature=x",
         "http://example.com/a?Expires=1&Signature=x"},
        {"http://[::1]:8080/x", "http://[::1]:8080/x"},
        {"http://[::1]/x", "http://[::1]/x"},
        {"http://example.com/a/../b/./c", "http://example.com/a/../b/./c"},
    };
    for (const auto& row : rows) {
        INFO(std::string(row.url));
        CHECK(key_of(row.url) == row.expected);
    }
}

TEST_CASE("policy/cache_key: signed CDN URLs drop their volatile parameters") {
    struct Row {
        const char* url;
        const char* expected;
    };
    const Row rows[] = {
        {"https://cas-bridge.xethub.hf.co/xet-bridge-us/abc/def?X-Amz-Algorithm=AWS4-HMAC-SHA256&"
         "X-Amz-Content-Sha256=UNSIGNED-PAYLOAD&X-Amz-Credential=cas%2F20250101%2Fus-east-1&"
         "X-Amz-Date=20250101T000000Z&X-Amz-Expires=3600&X-Amz-Signature=deadbeef&"
         "X-Amz-SignedHeaders=host&X-Xet-Cas-Uid=public&response-content-disposition=inline%3B"
         "&x-id=GetObject&Expires=1735693200&Policy=abc&Signature=xyz&Key-Pair-Id=K123",
         "https://cas-bridge.xethub.hf.co/xet-bridge-us/abc/def?x-id=GetObject"},
        {"https://cdn-lfs.huggingface.co/repos/a/b/sha?response-content-type=application%2F"
         "octet-stream&Expires=1&Policy=p&Signature=s&Key-Pair-Id=k",
         "https://cdn-lfs.huggingface.co/repos/a/b/sha"},
        {"https://acct.r2.cloudflarestorage.com/bucket/model.safetensors?x-amz-signature=1&keep=2",
         "https://acct.r2.cloudflarestorage.com/bucket/model.safetensors?keep=2"},
        {"https://b2.civitai.com/file/x.bin?Signature=1&a=1&&b=2",
         "https://b2.civitai.com/file/x.bin?a=1&b=2"},
        {"https://cdn.hf.co/x?X-Amz-Signature", "https://cdn.hf.co/x"},
        {"https://cdn.hf.co/x?X%2DAmz%2DSignature=1&v=1", "https://cdn.hf.co/x?v=1"},
        {"https://cdn.hf.co/x?signatures=1", "https://cdn.hf.co/x?signatures=1"},
        {"https://cdn.hf.co/x?=1&", "https://cdn.hf.co/x?=1"},
        // huggingface.co itself is not a signed CDN host; its /resolve/ URLs carry no signature.
        {"https://huggingface.co/m/resolve/main/f?Expires=1",
         "https://huggingface.co/m/resolve/main/f?Expires=1"},
        {"https://civitai.com/x?Signature=1", "https://civitai.com/x?Signature=1"},
    };
    for (const auto& row : rows) {
        INFO(std::string(row.url));
        CHECK(key_of(row.url) == row.expected);
    }
    // Two signatures of the same object are one key.
    CHECK(key_of("https://cdn-lfs.hf.co/a?X-Amz-Signature=1&X-Amz-Date=2") ==
          key_of("https://cdn-lfs.hf.co/a?X-Amz-Date=3&X-Amz-Signature=4"));
}

TEST_CASE("policy/cache_key: custom rules and hand-built targets") {
    const std::vector<KeyRule> rules = {{"mirror.example", {"token", "session-*"}},
                                        {"*.mirror.example", {"v"}}};
    RequestTarget t;
    t.scheme = "HTTP";
    t.host = "Mirror.Example.";
    t.port = 80;
    t.path = "/f?token=1&session-id=2&v=3&keep=4#x";
    CHECK(cache_key(t, rules) == "http://mirror.example/f?v=3&keep=4");
    t.host = "a.mirror.example";
    CHECK(cache_key(t, rules) == "http://a.mirror.example/f?token=1&session-id=2&keep=4");
    CHECK(cache_key(t, {}) == "http://a.mirror.example/f?token=1&session-id=2&v=3&keep=4");
    t.path = "";
    CHECK(cache_key(t, rules) == "http://a.mirror.example/");
    CHECK(default_key_rules().size() == 4);
}

TEST_CASE("policy/cache_key: normalize_percent_encoding") {
    using policy::detail::normalize_percent_encoding;
    CHECK(normalize_percent_encoding("") == "");
    CHECK(normalize_percent_encoding("%41%42%2d%5F%7e") == "AB-_~");
    CHECK(normalize_percent_encoding("%2f%3a%20%e2%82%ac") == "%2F%3A%20%E2%82%AC");
    CHECK(normalize_percent_encoding("%00") == "%00");
}

// docs/fuzzing.md finding 4: a stray '%' once formed a new pct-triplet with decoded digits.
TEST_CASE("policy/cache_key: a stray percent sign is written as %25") {
    using policy::detail::normalize_percent_encoding;
    CHECK(normalize_percent_encoding("%%41") == "%25A");
    CHECK(normalize_percent_encoding("%4") == "%254");
    CHECK(normalize_percent_encoding("%G1") == "%25G1");
    CHECK(normalize_percent_encoding("%") == "%25");
    CHECK(normalize_percent_encoding("%%") == "%25%25");
    CHECK(normalize_percent_encoding("a%") == "a%25");
    CHECK(normalize_percent_encoding("%25") == "%25");
    CHECK(normalize_percent_encoding("%%415") == "%25A5");
    CHECK(normalize_percent_encoding("%%615") == "%25a5");
}

TEST_CASE("policy/cache_key: a stray percent sign never makes two URLs share a key") {
    auto key = [](std::string_view url) {
        auto t = policy::parse_absolute_target(url);
        REQUIRE(t);
        return policy::cache_key(*t);
    };
    CHECK(key("http://example.com/%%415") == "http://example.com/%25A5");
    CHECK(key("http://example.com/%%415") != key("http://example.com/%A5"));
    CHECK(key("http://example.com/%%615") != key("http://example.com/%a5"));
    CHECK(key("http://example.com/50%") == "http://example.com/50%25");
    CHECK(key("http://example.com/50%") == key("http://example.com/50%25"));
    CHECK(key("http://example.com/f?q=%zz") == "http://example.com/f?q=%25zz");
    // A key is its own key: normalising twice changes nothing.
    for (std::string_view url : {"http://example.com/%%415", "http://example.com/%%%4%1",
                                 "http://example.com/a%?b=%%41"}) {
        std::string once = key(url);
        CHECK(key(once) == once);
    }
}

TEST_CASE("policy/cache_key: Backblaze download tokens are query parameters") {
    CHECK(key_of("https://b2.civitai.com/file/b/model/1/m.safetensors?Authorization=3_20261202_ab"
                 "&b2ContentDisposition=attachment%3B%20filename%3D%22m.safetensors%22") ==
          "https://b2.civitai.com/file/b/model/1/m.safetensors");
}

TEST_CASE("policy/cache_key: rules in their text form") {
    struct Row {
        const char* text;
        const char* error;  // nullptr: parses, and formats back to `canonical`
        const char* canonical;
    };
    const Row rows[] = {
        {"*.hf.co = X-Amz-*, Expires", nullptr, "*.hf.co = X-Amz-*, Expires"},
        {"  mirror.example=token,,sig  ", nullptr, "mirror.example = token, sig"},
        {"* = sig", nullptr, "* = sig"},
        {"[::1] = a", "is not a host", nullptr},
        {"no-equals sign", "expected PATTERN", nullptr},
        {" = a", "no host pattern", nullptr},
        {"a.example =", "no parameter names", nullptr},
        {"a.example = , ,", "no parameter names", nullptr},
        {"a.example = a&b", "is not a query parameter name", nullptr},
        {"a.example = *", "is not a query parameter name", nullptr},
        {"a.example = a*b*", "is not a query parameter name", nullptr},
        {"*. = a", "is not a host", nullptr},
    };
    for (const auto& row : rows) {
        INFO(std::string(row.text));
        auto rule = parse_key_rule(row.text);
        if (row.error) {
            REQUIRE_FALSE(rule);
            CHECK(rule.error().find(row.error) != std::string::npos);
            continue;
        }
        REQUIRE(rule);
        CHECK(format_key_rule(*rule) == row.canonical);
        auto again = parse_key_rule(format_key_rule(*rule));
        REQUIRE(again);
        CHECK(again->host_pattern == rule->host_pattern);
        CHECK(again->drop_params == rule->drop_params);
    }
    for (const auto& rule : default_key_rules()) {
        auto back = parse_key_rule(format_key_rule(rule));
        REQUIRE(back);
        CHECK(back->drop_params == rule.drop_params);
    }
}

TEST_CASE("policy/cache_key: key_drops_params tells signed URLs apart") {
    auto drops = [](std::string_view url) {
        auto t = parse_absolute_target(url, true);
        REQUIRE(t);
        return key_drops_params(*t, default_key_rules());
    };
    CHECK(drops("https://cdn-lfs.hf.co/a?Expires=1&Signature=2"));
    CHECK(drops("https://cdn-lfs.hf.co/a?keep=1&X%2DAmz%2DSignature=2"));
    CHECK(drops("https://b2.civitai.com/file/a?Authorization=3_x"));
    CHECK_FALSE(drops("https://cdn-lfs.hf.co/a"));
    CHECK_FALSE(drops("https://cdn-lfs.hf.co/a?keep=1"));
    CHECK_FALSE(drops("https://cdn-lfs.hf.co/a?#Signature=1"));
    CHECK_FALSE(drops("https://huggingface.co/m/resolve/main/f?Expires=1"));
    CHECK_FALSE(drops("https://example.com/a?Signature=1"));
}
