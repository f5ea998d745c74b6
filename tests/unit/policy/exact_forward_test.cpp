#include "policy/exact_forward.h"

#include <doctest/doctest.h>

using policy::decide_exact_forward;
using policy::ExactForwardReason;

namespace {

policy::RequestTarget target(std::string_view url) {
    auto t = policy::parse_absolute_target(url, true);
    REQUIRE(t);
    return *t;
}

}  // namespace

TEST_CASE("policy/exact_forward: Xet transfer, tokens and reconstructions bypass the cache") {
    const auto defaults = policy::default_signed_range_patterns();
    struct Row {
        const char* url;
        bool exact;
        ExactForwardReason reason;
    };
    const Row rows[] = {
        {"https://transfer.xethub.hf.co/xorb/default/ab12?X-Amz-Signature=1", true,
         ExactForwardReason::SignedRangeHost},
        {"https://transfer.xethub-eu.hf.co/xorb/default/ab12", true,
         ExactForwardReason::SignedRangeHost},
        {"https://cas-server.xethub.hf.co/v2/reconstructions/0123", true,
         ExactForwardReason::XetReconstruction},
        {"https://cas-server.xethub.hf.co/v1/reconstructions/0123", true,
         ExactForwardReason::XetReconstruction},
        {"https://huggingface.co/api/models/org/m/xet-read-token/main", true,
         ExactForwardReason::XetToken},
        {"https://huggingface.co/api/models/org/m/xet-write-token/main?x=1", true,
         ExactForwardReason::XetToken},
        // The bridge serves whole files for clients without Xet: cacheable.
        {"https://cas-bridge.xethub.hf.co/xet-bridge-us/abc/def?X-Amz-SignedHeaders=host", false,
         ExactForwardReason::Cacheable},
        {"https://huggingface.co/org/m/resolve/main/model.safetensors", false,
         ExactForwardReason::Cacheable},
        {"https://bucket.s3.amazonaws.com/o?X-Amz-SignedHeaders=host%3Brange&X-Amz-Signature=x",
         true, ExactForwardReason::SignedRangeQuery},
        {"https://bucket.s3.amazonaws.com/o?x-amz-signedheaders=host;range", true,
         ExactForwardReason::SignedRangeQuery},
        {"https://bucket.s3.amazonaws.com/o?X-Amz-SignedHeaders=host;x-amz-range", false,
         ExactForwardReason::Cacheable},
        {"https://bucket.s3.amazonaws.com/o?X-Amz-SignedHeaders=rangex", false,
         ExactForwardReason::Cacheable},
        // A path that merely contains the words, on an ordinary host: cacheable.
        {"http://example.com/files/v1/reconstructions/x", false, ExactForwardReason::Cacheable},
    };
    for (const auto& row : rows) {
        CAPTURE(row.url);
        auto d = decide_exact_forward(defaults, target(row.url));
        CHECK(d.forward_exactly == row.exact);
        CHECK(d.reason == row.reason);
    }
}

TEST_CASE("policy/exact_forward: the host list is configurable, empty keeps only the rules") {
    auto t = target("https://transfer.xethub.hf.co/xorb/default/ab12");
    CHECK_FALSE(decide_exact_forward({}, t).forward_exactly);
    CHECK(decide_exact_forward({"*.xethub.hf.co"}, t).forward_exactly);
    auto token = target("https://huggingface.co/api/models/a/b/xet-read-token/main");
    CHECK(decide_exact_forward({}, token).reason == ExactForwardReason::XetToken);
}

TEST_CASE("policy/exact_forward: is_xet_file_info_request (a Range the Hub ignores)") {
    struct Row {
        const char* name;
        const char* url;
        policy::HeaderList request;
        bool file_info;
    };
    const char* resolve = "https://huggingface.co/org/model/resolve/main/model.safetensors";
    const char* cdn = "https://cdn-lfs.hf.co/repos/ab/cd/abcd?X-Amz-Signature=x";
    const policy::HeaderList xet = {{"Accept", "application/vnd.xet-fileinfo+json, */*"},
                                    {"Range", "bytes=0-0"}};
    const Row rows[] = {
        {"huggingface_hub's file-info request", resolve, xet, true},
        {"resolve-cache URL", "https://huggingface.co/api/resolve-cache/models/o/m/c/f", xet, true},
        {"case-insensitive media type",
         resolve,
         {{"accept", "Application/Vnd.Xet-FileInfo+JSON"}},
         true},
        {"on a second Accept line",
         resolve,
         {{"Accept", "*/*"}, {"Accept", "application/vnd.xet-fileinfo+json"}},
         true},
        {"the redirect's CDN URL with the same Accept is a download", cdn, xet, false},
        {"a plain download", resolve, {{"Accept", "*/*"}, {"Range", "bytes=0-0"}}, false},
        {"no Accept", resolve, {}, false},
        {"the type elsewhere does not count",
         resolve,
         {{"X-Accept", "application/vnd.xet-fileinfo+json"}},
         false},
    };
    for (const auto& row : rows) {
        CAPTURE(row.name);
        CHECK(policy::is_xet_file_info_request(target(row.url), row.request) == row.file_info);
    }
}
