#include "policy/content_digest.h"

#include <doctest/doctest.h>

#include <cctype>

using policy::HeaderList;

namespace {
// sha256("hello"), as hex and base64.
constexpr const char* kHex = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
constexpr const char* kB64 = "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=";
}  // namespace

TEST_CASE("policy/content_digest: X-Linked-Etag with quotes, any case") {
    HeaderList h{{"X-Linked-Etag", std::string("\"") + kHex + "\""}};
    CHECK(policy::announced_sha256(h) == std::string(kHex));
    std::string upper = kHex;
    for (char& c : upper)
        c = static_cast<char>(std::toupper(c));
    CHECK(policy::announced_sha256({{"x-linked-etag", upper}}) == std::string(kHex));
}

TEST_CASE("policy/content_digest: a git sha1 or a weak ETag is no sha256") {
    CHECK_FALSE(policy::announced_sha256({{"X-Linked-Etag", "\"a1b2c3\""}}));
    CHECK_FALSE(policy::announced_sha256(
        {{"X-Linked-Etag", "\"0123456789012345678901234567890123456789\""}}));
    CHECK_FALSE(policy::announced_sha256({{"ETag", std::string("\"") + kHex + "\""}}));
    CHECK_FALSE(policy::announced_sha256({}));
}

TEST_CASE("policy/content_digest: Repr-Digest (RFC 9530) and Digest (RFC 3230)") {
    CHECK(policy::announced_sha256({{"Repr-Digest", std::string("sha-512=:AAAA:, sha-256=:") +
                                                        kB64 + ":"}}) == std::string(kHex));
    CHECK(policy::announced_sha256({{"Digest", std::string("SHA-256=") + kB64}}) ==
          std::string(kHex));
    // Not a byte sequence, wrong length, bad characters: ignored.
    CHECK_FALSE(policy::announced_sha256({{"Repr-Digest", std::string("sha-256=") + kB64}}));
    CHECK_FALSE(policy::announced_sha256({{"Digest", "SHA-256=AAAA"}}));
    CHECK_FALSE(policy::announced_sha256({{"Digest", "SHA-256=!!!!"}}));
}

TEST_CASE("policy/content_digest: Repr-Digest wins over X-Linked-Etag") {
    std::string other(64, 'a');
    HeaderList h{{"X-Linked-Etag", "\"" + other + "\""},
                 {"Repr-Digest", std::string("sha-256=:") + kB64 + ":"}};
    CHECK(policy::announced_sha256(h) == std::string(kHex));
}

TEST_CASE("policy/content_digest: X-Linked-Size") {
    CHECK(policy::announced_size({{"X-Linked-Size", "67108864"}}) == 67108864u);
    CHECK_FALSE(policy::announced_size({{"X-Linked-Size", "12x"}}));
    CHECK_FALSE(policy::announced_size({{"X-Linked-Size", ""}}));
    CHECK_FALSE(policy::announced_size({}));
}

TEST_CASE("policy/content_digest: content keys round-trip") {
    auto key = policy::content_key(kHex);
    CHECK(key == std::string("sha256:") + kHex);
    CHECK(policy::sha256_of_content_key(key) == std::string(kHex));
    CHECK_FALSE(policy::sha256_of_content_key("https://huggingface.co/x"));
    CHECK_FALSE(policy::sha256_of_content_key("sha256:abc"));
}

TEST_CASE("policy/content_digest: base64") {
    CHECK(policy::detail::decode_base64("aGk=") == std::string("hi"));
    CHECK(policy::detail::decode_base64("aGk") == std::string("hi"));
    CHECK_FALSE(policy::detail::decode_base64("a"));
    CHECK_FALSE(policy::detail::decode_base64("a-b_"));
}
