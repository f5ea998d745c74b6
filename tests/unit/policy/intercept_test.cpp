#include "policy/intercept.h"

#include <doctest/doctest.h>

#include <string>

using namespace policy;

TEST_CASE("policy/intercept: default patterns cover the model hosts and nothing else") {
    const auto patterns = default_intercept_patterns();
    struct Row {
        const char* host;
        bool expected;
    };
    const Row rows[] = {
        {"huggingface.co", true},
        {"HuggingFace.co.", true},
        {"cdn-lfs.huggingface.co", true},
        {"cas-bridge.xethub.hf.co", true},
        {"us.aws.cdn.hf.co", true},
        {"hf.co", false},  // not in the list; only its subdomains serve files
        {"civitai.com", true},
        {"b2.civitai.com", true},
        {"image.civitai.com", true},
        {"abc.r2.cloudflarestorage.com", true},
        {"r2.cloudflarestorage.com", false},
        {"github.com", false},
        {"huggingface.co.evil.net", false},
        {"evilhuggingface.co", false},
        {"127.0.0.1", false},
    };
    for (const auto& r : rows) {
        CAPTURE(r.host);
        CHECK(should_intercept(patterns, r.host) == r.expected);
    }
    CHECK_FALSE(should_intercept({}, "huggingface.co"));
    CHECK(should_intercept({"127.0.0.1"}, "127.0.0.1"));
}

TEST_CASE("policy/intercept: pattern validation") {
    CHECK(intercept_pattern_error("huggingface.co").empty());
    CHECK(intercept_pattern_error("*.hf.co").empty());
    CHECK(intercept_pattern_error("127.0.0.1").empty());
    CHECK(intercept_pattern_error("::1").empty());
    CHECK(intercept_pattern_error("localhost").empty());
    CHECK_FALSE(intercept_pattern_error("").empty());
    CHECK_FALSE(intercept_pattern_error("*.").empty());
    CHECK_FALSE(intercept_pattern_error("*").empty());
    CHECK_FALSE(intercept_pattern_error("a*.hf.co").empty());
    CHECK_FALSE(intercept_pattern_error("hf.co/path").empty());
    CHECK_FALSE(intercept_pattern_error("a..b").empty());
    CHECK_FALSE(intercept_pattern_error(".hf.co").empty());
}

TEST_CASE("policy/intercept: tunnel_target") {
    const HostPort hf{"huggingface.co", 443, false};
    const HostPort local{"127.0.0.1", 8443, false};
    const HostPort v6{"::1", 443, true};
    struct Row {
        const HostPort* authority;
        const char* target;
        const char* url;  // nullptr: an error expected
        TunnelTargetErrc error;
    };
    const Row rows[] = {
        {&hf,
         "/org/model/resolve/main/x.safetensors?download=true",
         "https://huggingface.co/org/model/resolve/main/x.safetensors?download=true",
         {}},
        {&hf, "/", "https://huggingface.co/", {}},
        {&local, "/bytes/100", "https://127.0.0.1:8443/bytes/100", {}},
        {&v6, "/a", "https://[::1]/a", {}},
        {&hf, "https://huggingface.co/a", "https://huggingface.co/a", {}},
        {&hf, "https://HUGGINGFACE.co:443/a", "https://huggingface.co/a", {}},
        {&local, "https://127.0.0.1:8443/a", "https://127.0.0.1:8443/a", {}},
        {&hf, "https://evil.net/a", nullptr, TunnelTargetErrc::OtherOrigin},
        {&hf, "https://huggingface.co:8443/a", nullptr, TunnelTargetErrc::OtherOrigin},
        {&hf, "http://huggingface.co/a", nullptr, TunnelTargetErrc::NotHttps},
        {&hf, "ftp://huggingface.co/a", nullptr, TunnelTargetErrc::NotHttps},
        {&hf, "*", nullptr, TunnelTargetErrc::Malformed},
        {&hf, "/a b", nullptr, TunnelTargetErrc::Malformed},
    };
    for (const auto& r : rows) {
        CAPTURE(r.target);
        auto t = tunnel_target(*r.authority, r.target);
        if (r.url) {
            REQUIRE(t);
            CHECK(t->url() == r.url);
        } else {
            REQUIRE_FALSE(t);
            CHECK(t.error() == r.error);
        }
    }
}
