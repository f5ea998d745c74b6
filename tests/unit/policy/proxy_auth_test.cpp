#include "policy/proxy_auth.h"

#include <doctest/doctest.h>

using policy::CryptScheme;

TEST_CASE("policy/proxy_auth: Basic credentials (RFC 7617 §2, RFC 9110 §11.1)") {
    struct Row {
        const char* value;
        const char* user;  // nullptr: refused
        const char* password;
    };
    const Row rows[] = {
        {"Basic YWxpY2U6c2VjcmV0", "alice", "secret"},
        {"basic YWxpY2U6c2VjcmV0", "alice", "secret"},             // scheme is case-insensitive
        {"  BASIC   YWxpY2U6c2VjcmV0  ", "alice", "secret"},       // OWS around
        {"Basic YWxpY2U6c2U6Y3JldA==", "alice", "se:cret"},        // password may hold ':'
        {"Basic YWxpY2U6", "alice", ""},                           // empty password
        {"Basic OnNlY3JldA==", nullptr, nullptr},                  // ":secret": empty user-id
        {"Basic YWxpY2U=", nullptr, nullptr},                      // "alice": no ':'
        {"Basic !!!!", nullptr, nullptr},                          // not base64
        {"Basic", nullptr, nullptr},                               // no token
        {"Bearer YWxpY2U6c2VjcmV0", nullptr, nullptr},             // another scheme
        {"Basic YWxpY2U6c2VjcmV0, Basic eDp5", nullptr, nullptr},  // a list is not one token68
        {"", nullptr, nullptr},
    };
    for (const Row& r : rows) {
        CAPTURE(r.value);
        const auto got = policy::parse_basic_credentials(r.value);
        if (!r.user) {
            CHECK_FALSE(got);
            continue;
        }
        REQUIRE(got);
        CHECK(got->user == r.user);
        CHECK(got->password == r.password);
    }
}

TEST_CASE("policy/proxy_auth: crypt schemes accepted and refused") {
    CHECK(policy::crypt_scheme("$2y$05$abcdefghijklmnopqrstuu") == CryptScheme::Bcrypt);
    CHECK(policy::crypt_scheme("$2b$10$x") == CryptScheme::Bcrypt);
    CHECK(policy::crypt_scheme("$5$rounds=5000$salt$h") == CryptScheme::Sha256Crypt);
    CHECK(policy::crypt_scheme("$6$salt$h") == CryptScheme::Sha512Crypt);
    CHECK(policy::crypt_scheme("$y$j9T$salt$h") == CryptScheme::Yescrypt);
    CHECK_FALSE(policy::crypt_scheme("$apr1$salt$h"));
    CHECK_FALSE(policy::crypt_scheme("{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M="));
    CHECK_FALSE(policy::crypt_scheme("$1$salt$h"));
    CHECK_FALSE(policy::crypt_scheme("abJnggxhB/yWI"));
    CHECK_FALSE(policy::crypt_scheme("secret"));
}

TEST_CASE("policy/proxy_auth: htpasswd files") {
    const auto ok = policy::parse_htpasswd(
        "# team\r\nalice:$2y$05$abc\r\n\r\nbob:$6$salt$hash\n  # indented comment\n");
    REQUIRE(ok);
    CHECK(ok->entries.size() == 2);
    REQUIRE(ok->find("alice"));
    CHECK(ok->find("alice")->hash == "$2y$05$abc");  // CR dropped
    CHECK(ok->find("bob")->hash == "$6$salt$hash");
    CHECK_FALSE(ok->find("carol"));
    CHECK_FALSE(ok->find("Alice"));  // user names are exact

    struct Row {
        const char* text;
        const char* error_part;
    };
    const Row bad[] = {
        {"alice\n", "line 1: expected user:hash"},
        {"alice:$2y$05$a\n:$2y$05$b\n", "line 2: empty user name"},
        {"alice:$2y$05$a\nalice:$6$b\n", "line 2: user 'alice' twice"},
        {"alice:$apr1$x$y\n", "Apache MD5"},
        {"alice:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=\n", "unsalted SHA-1"},
        {"alice:secret\n", "plain text"},
        {"# nobody\n\n", "no user"},
        {"", "no user"},
    };
    for (const Row& r : bad) {
        CAPTURE(r.text);
        const auto got = policy::parse_htpasswd(r.text);
        REQUIRE_FALSE(got);
        CHECK(got.error().find(r.error_part) != std::string::npos);
    }
}

TEST_CASE("policy/proxy_auth: the 407 challenge (RFC 9110 §11.7.1)") {
    CHECK(policy::basic_challenge("dlproxy") == "Basic realm=\"dlproxy\", charset=\"UTF-8\"");
    CHECK(policy::basic_challenge("a\"b\\c") == "Basic realm=\"a\\\"b\\\\c\", charset=\"UTF-8\"");
}
