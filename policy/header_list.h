// HeaderList: an ordered list of HTTP header fields as received, and the RFC 9110 §7.6.1 rules
// for which of them a proxy forwards.
//
// Order and repetition are preserved (Set-Cookie may repeat and must stay separate). Names compare
// case-insensitively (RFC 9110 §5.1). Values are stored without surrounding whitespace.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace policy {

struct Header {
    std::string name;
    std::string value;
};

using HeaderList = std::vector<Header>;

bool iequals(std::string_view a, std::string_view b);

// The first field named `name`, or nullopt.
std::optional<std::string_view> find_header(const HeaderList& headers, std::string_view name);

// Number of fields named `name`.
size_t count_header(const HeaderList& headers, std::string_view name);

// True when some field named `name` lists `token` in its comma-separated value (case-insensitive),
// e.g. has_token(h, "Connection", "close").
bool has_token(const HeaderList& headers, std::string_view name, std::string_view token);

// Removes every field named `name`.
void remove_header(HeaderList& headers, std::string_view name);

// True for the fixed hop-by-hop fields of RFC 9110 §7.6.1 (Connection, Proxy-Connection,
// Keep-Alive, TE, Transfer-Encoding, Upgrade, Proxy-Authorization, Proxy-Authenticate, Trailer).
bool is_fixed_hop_by_hop(std::string_view name);

// The end-to-end subset of `headers`: drops the fixed hop-by-hop fields and every field named in
// a Connection header (RFC 9110 §7.6.1). Content-Length is kept; framing is the caller's concern.
HeaderList end_to_end(const HeaderList& headers);

// Appends this proxy's Via entry (RFC 9110 §7.6.3), e.g. "1.1 dlproxy".
void add_via(HeaderList& headers, std::string_view protocol_version, std::string_view pseudonym);

// Trims optional whitespace (SP / HTAB) from both ends.
std::string_view trim_ows(std::string_view s);

}  // namespace policy
