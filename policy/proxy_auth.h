// Proxy authentication with Basic credentials (RFC 9110 §11.7, RFC 7617) against an htpasswd
// file whose hashes are crypt(3) strings (`--auth-basic FILE`, docs/operations.md).
//
// Pure: parsing and classification. The hash is computed by proxy/client/proxy_auth.cpp with
// the system's crypt on a worker thread (bcrypt costs tens of milliseconds by design, too long
// for the loop), and compared there in constant time.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tl/expected.hpp"

namespace policy {

struct BasicCredentials {
    std::string user;
    std::string password;
};

// A `Proxy-Authorization` field value → the credentials. nullopt when the scheme is not Basic
// (case-insensitive, RFC 9110 §11.1), the token68 is not base64, or the decoded text has no ':'
// or an empty user-id (RFC 7617 §2).
std::optional<BasicCredentials> parse_basic_credentials(std::string_view field_value);

// The hash schemes accepted in an htpasswd file: the strong crypt(3) ones libxcrypt computes.
enum class CryptScheme { Bcrypt, Sha256Crypt, Sha512Crypt, Yescrypt, Scrypt };
// The scheme of a crypt string by its prefix; nullopt for anything else ($apr1$, {SHA}, $1$,
// 13-character DES, plain text).
std::optional<CryptScheme> crypt_scheme(std::string_view hash);

struct HtpasswdEntry {
    std::string user;
    std::string hash;  // a crypt(3) string, e.g. $2y$10$...
};

struct Htpasswd {
    std::vector<HtpasswdEntry> entries;
    // The entry for `user`, or null.
    const HtpasswdEntry* find(std::string_view user) const;
};

// An htpasswd file: `user:hash` per line; blank lines and lines starting with '#' ignored; CRLF
// accepted. Refused, with the line number and what to do: a line without ':', an empty user, a
// user listed twice, a hash of a scheme crypt_scheme() does not accept, and a file with no user
// (a proxy nobody may use is a mistake, not a configuration).
tl::expected<Htpasswd, std::string> parse_htpasswd(std::string_view text);

// The `Proxy-Authenticate` value of a 407 (RFC 9110 §11.7.1, RFC 7617 §2: charset UTF-8).
std::string basic_challenge(std::string_view realm);

}  // namespace policy
