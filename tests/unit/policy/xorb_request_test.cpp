#include "policy/xorb_request.h"

#include <doctest/doctest.h>

#include "policy/exact_forward.h"

using policy::ByteRange;
using policy::UrlExpiry;

namespace {

const std::string kHash(64, 'a');

policy::RequestTarget target(const std::string& url) {
    auto t = policy::parse_absolute_target(url, true);
    REQUIRE(t);
    return *t;
}

}  // namespace

TEST_CASE("policy/xorb_request: which requests are xorb transfers") {
    const auto hosts = policy::default_signed_range_patterns();
    struct Row {
        std::string url;
        bool xorb;
    };
    const Row rows[] = {
        {"https://transfer.xethub.hf.co/xorb/default/" + kHash + "?X-Xet-Signature=1", true},
        {"https://transfer.xethub-eu.hf.co/xorb/default/" + kHash, true},
        {"http://transfer.xethub.hf.co/xorb/default/" + kHash, false},
        {"https://other.hf.co/xorb/default/" + kHash, false},
        {"https://transfer.xethub.hf.co/xorb/default/" + kHash + "/x", false},
        {"https://transfer.xethub.hf.co/xorb/default/" + std::string(63, 'a'), false},
        {"https://transfer.xethub.hf.co/xorb/default/" + std::string(64, 'A'), false},
        {"https://transfer.xethub.hf.co/xorb//" + kHash, false},
        {"https://transfer.xethub.hf.co/shard/default/" + kHash, false},
    };
    for (const Row& row : rows) {
        CAPTURE(row.url);
        auto x = policy::xorb_target(hosts, target(row.url));
        CHECK(x.has_value() == row.xorb);
        if (x) CHECK(x->key() == "xet-xorb:default/" + kHash);
    }
    CHECK_FALSE(
        policy::xorb_target({}, target("https://transfer.xethub.hf.co/xorb/default/" + kHash)));
}

TEST_CASE("policy/xorb_request: ranges a request asks for") {
    using V = std::vector<ByteRange>;
    CHECK(policy::xorb_ranges("bytes=0-9", 100) == V{{0, 10}});
    CHECK(policy::xorb_ranges("bytes=50-9,0-4", 100) == std::nullopt);  // inverted
    CHECK(policy::xorb_ranges("bytes=50-59, 0-4", 100) == V{{50, 60}, {0, 5}});
    CHECK(policy::xorb_ranges("bytes=90-200", 100) == V{{90, 100}});  // clamped, as the origin
    CHECK(policy::xorb_ranges("bytes=100-200", 100) == std::nullopt);
    CHECK(policy::xorb_ranges("bytes=5-", 100) == std::nullopt);
    CHECK(policy::xorb_ranges("bytes=-5", 100) == std::nullopt);
    CHECK(policy::xorb_ranges("items=0-5", 100) == std::nullopt);
    CHECK(policy::xorb_ranges("", 100) == std::nullopt);
}

TEST_CASE("policy/xorb_request: expiry of a signed URL") {
    const int64_t now = 1'750'000'000;
    struct Row {
        const char* path;
        UrlExpiry expiry;
    };
    const Row rows[] = {
        {"/x?X-Xet-Expires=1750000001&X-Xet-Signature=s", UrlExpiry::Valid},
        {"/x?X-Xet-Expires=1750000000", UrlExpiry::Expired},
        {"/x?Expires=1749999999&Signature=s&Key-Pair-Id=k", UrlExpiry::Expired},
        {"/x?Expires=1760000000&Signature=s", UrlExpiry::Valid},
        // 2025-06-15T15:06:40Z = 1750000000; valid for 3600 s.
        {"/x?X-Amz-Date=20250615T150640Z&X-Amz-Expires=3600", UrlExpiry::Valid},
        {"/x?X-Amz-Date=20250615T140640Z&X-Amz-Expires=3600", UrlExpiry::Expired},
        {"/x?X-Amz-Date=2025-06-15&X-Amz-Expires=3600", UrlExpiry::Unknown},
        {"/x?Expires=soon", UrlExpiry::Unknown},
        {"/x", UrlExpiry::Unknown},
    };
    for (const Row& row : rows) {
        CAPTURE(row.path);
        CHECK(policy::signed_url_expiry(row.path, now) == row.expiry);
    }
}
