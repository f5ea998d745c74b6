#include "policy/mirror.h"

#include <doctest/doctest.h>

#include "policy/intercept.h"

using policy::MirrorErrc;
using policy::MirrorLinks;
using policy::MirrorSites;

namespace {

MirrorSites sites() {
    return {"huggingface.co", policy::default_intercept_patterns()};
}

}  // namespace

TEST_CASE("policy/mirror: origin-form targets become https URLs, path and query kept") {
    const auto s = sites();
    struct Row {
        const char* in;
        const char* url;
        const char* prefix;
    };
    const Row rows[] = {
        {"/org/m/resolve/main/a.bin", "https://huggingface.co/org/m/resolve/main/a.bin", ""},
        {"/api/models/org/m?x=%2F&y", "https://huggingface.co/api/models/org/m?x=%2F&y", ""},
        {"/_mirror/cas-bridge.xethub.hf.co/xet-bridge-us/ab/cd?X-Amz-Signature=a%3Db",
         "https://cas-bridge.xethub.hf.co/xet-bridge-us/ab/cd?X-Amz-Signature=a%3Db",
         "/_mirror/cas-bridge.xethub.hf.co"},
        {"/_mirror/Transfer.XetHub.hf.co?q=1", "https://transfer.xethub.hf.co/?q=1",
         "/_mirror/transfer.xethub.hf.co"},
        {"/_mirror/cdn-lfs.hf.co", "https://cdn-lfs.hf.co/", "/_mirror/cdn-lfs.hf.co"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.in);
        auto t = policy::mirror_target(s, row.in);
        REQUIRE(t);
        CHECK(t->target.url() == row.url);
        CHECK(t->prefix == row.prefix);
    }
}

TEST_CASE("policy/mirror: refusals") {
    const auto s = sites();
    struct Row {
        const char* in;
        MirrorErrc error;
    };
    const Row rows[] = {
        {"/_mirror/example.com/x", MirrorErrc::HostNotMirrored},
        {"/_mirror/127.0.0.1/x", MirrorErrc::HostNotMirrored},
        {"/_mirror/cdn-lfs.hf.co:8443/x", MirrorErrc::Malformed},
        {"/_mirror/user@cdn-lfs.hf.co/x", MirrorErrc::Malformed},
        {"/_mirror/[::1]/x", MirrorErrc::Malformed},
        {"/_mirror/", MirrorErrc::Malformed},
        {"/_mirror//x", MirrorErrc::Malformed},
        {"/a b", MirrorErrc::Malformed},
        {"http://huggingface.co/x", MirrorErrc::Malformed},
        {"*", MirrorErrc::Malformed},
    };
    for (const auto& row : rows) {
        CAPTURE(row.in);
        auto t = policy::mirror_target(s, row.in);
        REQUIRE_FALSE(t);
        CHECK(t.error() == row.error);
    }
    MirrorSites off{"", policy::default_intercept_patterns()};
    auto t = policy::mirror_target(off, "/org/m/resolve/main/a.bin");
    REQUIRE_FALSE(t);
    CHECK(t.error() == MirrorErrc::Off);
}

TEST_CASE("policy/mirror: the base comes from the Host field") {
    auto base = policy::mirror_base("127.0.0.1:3128");
    REQUIRE(base);
    CHECK(base->url == "http://127.0.0.1:3128");
    CHECK(base->host == "127.0.0.1");
    CHECK(base->port == 3128);
    CHECK(policy::mirror_base("LocalHost:8080")->url == "http://localhost:8080");
    base = policy::mirror_base("[::1]:3128");
    REQUIRE(base);
    CHECK(base->url == "http://[::1]:3128");
    CHECK(base->host == "::1");
    base = policy::mirror_base("cache.lan");
    REQUIRE(base);
    CHECK(base->url == "http://cache.lan");
    CHECK(base->port == 80);
    CHECK_FALSE(policy::mirror_base(""));
    CHECK_FALSE(policy::mirror_base("a/b"));
    CHECK_FALSE(policy::mirror_base("x@y:1"));
    CHECK_FALSE(policy::mirror_base("a b:1"));
}

TEST_CASE("policy/mirror: references onto the mirror") {
    const auto s = sites();
    const MirrorLinks origin(s, "http://127.0.0.1:3128", "");
    const MirrorLinks cdn(s, "http://127.0.0.1:3128", "/_mirror/cdn-lfs.hf.co");
    struct Row {
        const MirrorLinks* links;
        const char* in;
        const char* out;
    };
    const Row rows[] = {
        {&origin, "https://cas-bridge.xethub.hf.co/xet-bridge-us/a/b?X-Amz-Expires=3600&x=%2F",
         "http://127.0.0.1:3128/_mirror/cas-bridge.xethub.hf.co/xet-bridge-us/a/b?"
         "X-Amz-Expires=3600&x=%2F"},
        {&origin, "https://huggingface.co/api/models/o/r/xet-read-token/abc",
         "http://127.0.0.1:3128/api/models/o/r/xet-read-token/abc"},
        {&origin, "HTTPS://HuggingFace.co/x", "http://127.0.0.1:3128/x"},
        {&origin, "https://cas-server.xethub.hf.co",
         "http://127.0.0.1:3128/_mirror/cas-server.xethub.hf.co"},
        {&origin, "https://huggingface.co", "http://127.0.0.1:3128"},
        {&origin, "https://cdn-lfs.hf.co?a=1", "http://127.0.0.1:3128/_mirror/cdn-lfs.hf.co/?a=1"},
        {&origin, "//cdn-lfs.hf.co/repos/a", "http://127.0.0.1:3128/_mirror/cdn-lfs.hf.co/repos/a"},
        // Relative references resolve against the mirror URL of the request itself.
        {&origin, "/api/resolve-cache/models/o/r/c/f?etag=1", "/api/resolve-cache/models/o/r/c/f?etag=1"},
        {&cdn, "/repos/b", "/_mirror/cdn-lfs.hf.co/repos/b"},
        {&cdn, "b?x=1", "b?x=1"},
        {&cdn, "?x=1", "?x=1"},
        // Not mirrored: other hosts, plain http, other ports, malformed.
        {&origin, "https://example.com/x", "https://example.com/x"},
        {&origin, "http://cdn-lfs.hf.co/x", "http://cdn-lfs.hf.co/x"},
        {&origin, "https://cdn-lfs.hf.co:8443/x", "https://cdn-lfs.hf.co:8443/x"},
        {&origin, "mailto:a@b", "mailto:a@b"},
        {&origin, "https://a b/", "https://a b/"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.in);
        CHECK(row.links->reference(row.in) == row.out);
    }
}

TEST_CASE("policy/mirror: Link fields and headers") {
    const auto s = sites();
    const MirrorLinks links(s, "http://localhost:9", "");
    CHECK(links.link_field(
              "<https://huggingface.co/api/models/o/r/xet-read-token/c>; rel=\"xet-auth\", "
              "<https://cas-server.xethub.hf.co/v1/reconstructions/h>; "
              "rel=\"xet-reconstruction-info\"") ==
          "<http://localhost:9/api/models/o/r/xet-read-token/c>; rel=\"xet-auth\", "
          "<http://localhost:9/_mirror/cas-server.xethub.hf.co/v1/reconstructions/h>; "
          "rel=\"xet-reconstruction-info\"");
    // A '<' inside a quoted parameter is not a URI reference.
    CHECK(links.link_field("<https://example.com/a>; title=\"<https://hf.co/x>\"") ==
          "<https://example.com/a>; title=\"<https://hf.co/x>\"");
    CHECK(links.link_field("<https://cdn-lfs.hf.co/a>; title=\"q\\\"<\", </b>") ==
          "<http://localhost:9/_mirror/cdn-lfs.hf.co/a>; title=\"q\\\"<\", "
          "</b>");
    CHECK(links.link_field("<unterminated") == "<unterminated");

    policy::HeaderList h{{"Location", "https://cdn-lfs.hf.co/r/a"},
                         {"Content-Location", "https://huggingface.co/c"},
                         {"Link", "<https://huggingface.co/n>; rel=next"},
                         {"X-Other", "https://huggingface.co/x"}};
    links.rewrite_headers(h);
    CHECK(h[0].value == "http://localhost:9/_mirror/cdn-lfs.hf.co/r/a");
    CHECK(h[1].value == "http://localhost:9/c");
    CHECK(h[2].value == "<http://localhost:9/n>; rel=next");
    CHECK(h[3].value == "https://huggingface.co/x");
}
