#include "policy/proxy_auth.h"

#include "policy/content_digest.h"
#include "policy/header_list.h"

namespace policy {

std::optional<BasicCredentials> parse_basic_credentials(std::string_view value) {
    value = trim_ows(value);
    const size_t space = value.find(' ');
    if (space == std::string_view::npos || !iequals(value.substr(0, space), "basic"))
        return std::nullopt;
    const std::string_view token = trim_ows(value.substr(space + 1));
    if (token.empty() || token.find_first_of(" \t,") != std::string_view::npos) return std::nullopt;
    std::optional<std::string> decoded = detail::decode_base64(token);
    if (!decoded) return std::nullopt;
    const size_t colon = decoded->find(':');
    if (colon == std::string::npos || colon == 0) return std::nullopt;
    return BasicCredentials{decoded->substr(0, colon), decoded->substr(colon + 1)};
}

std::optional<CryptScheme> crypt_scheme(std::string_view hash) {
    if (hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$"))
        return CryptScheme::Bcrypt;
    if (hash.starts_with("$5$")) return CryptScheme::Sha256Crypt;
    if (hash.starts_with("$6$")) return CryptScheme::Sha512Crypt;
    if (hash.starts_with("$y$")) return CryptScheme::Yescrypt;
    if (hash.starts_with("$7$")) return CryptScheme::Scrypt;
    return std::nullopt;
}

const HtpasswdEntry* Htpasswd::find(std::string_view user) const {
    for (const HtpasswdEntry& e : entries)
        if (e.user == user) return &e;
    return nullptr;
}

namespace {

std::string why_refused(std::string_view hash) {
    if (hash.starts_with("$apr1$"))
        return "Apache MD5 ($apr1$, htpasswd's default) is not a crypt(3) scheme";
    if (hash.starts_with("{SHA}")) return "{SHA} is an unsalted SHA-1";
    if (hash.starts_with("$1$")) return "MD5-crypt ($1$) is too weak";
    if (hash.size() == 13) return "DES crypt is too weak";
    return "not a crypt(3) hash (plain text?)";
}

}  // namespace

tl::expected<Htpasswd, std::string> parse_htpasswd(std::string_view text) {
    Htpasswd out;
    size_t line_no = 0;
    while (!text.empty()) {
        const size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        ++line_no;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (trim_ows(line).empty() || trim_ows(line).front() == '#') continue;
        const std::string where = "line " + std::to_string(line_no) + ": ";
        const size_t colon = line.find(':');
        if (colon == std::string_view::npos) return tl::unexpected(where + "expected user:hash");
        const std::string_view user = line.substr(0, colon);
        const std::string_view hash = line.substr(colon + 1);
        if (user.empty()) return tl::unexpected(where + "empty user name");
        if (out.find(user)) return tl::unexpected(where + "user '" + std::string(user) + "' twice");
        if (!crypt_scheme(hash))
            return tl::unexpected(where + "user '" + std::string(user) + "': " + why_refused(hash) +
                                  "; make the entry with `htpasswd -B` (bcrypt) or -5 (SHA-512)");
        out.entries.push_back({std::string(user), std::string(hash)});
    }
    if (out.entries.empty()) return tl::unexpected(std::string("no user in the file"));
    return out;
}

std::string basic_challenge(std::string_view realm) {
    std::string out = "Basic realm=\"";
    for (char c : realm) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    out += "\", charset=\"UTF-8\"";
    return out;
}

}  // namespace policy
