// The upstream routing settings as people write them (curl's syntax, so that a line tested with
// curl works here): --resolve HOST:PORT:ADDR[,ADDR...], --connect-to HOST:PORT:HOST2:PORT2,
// --upstream-proxy URL and --upstream-no-proxy LIST (docs/operations.md).
//
// Pure parsing: no I/O, no libcurl. Config keeps the validated text;
// proxy/upstream/upstream_route.h turns it into libcurl options and the CONNECT tunnel's route.
// Each parser returns the value or why not, in a sentence the start-up error can quote.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "policy/result.h"

namespace proxy {

// HOST:PORT:ADDR[,ADDR...] (CURLOPT_RESOLVE): connections to HOST on PORT go to ADDR, without a
// DNS lookup. ADDR is an IP literal, IPv6 in brackets ("[::1]").
struct ResolveEntry {
    std::string host;  // lower case
    uint16_t port = 0;
    std::vector<std::string> addresses;  // IP literals, IPv6 without brackets
};
policy::Result<ResolveEntry, std::string> parse_resolve_entry(std::string_view text);

// HOST:PORT:CONNECT-HOST:CONNECT-PORT (CURLOPT_CONNECT_TO): a request for HOST on PORT connects
// to CONNECT-HOST:CONNECT-PORT instead; TLS still verifies the certificate for HOST. An empty HOST
// or PORT matches any; an empty CONNECT-HOST or CONNECT-PORT keeps the request's own.
struct ConnectToEntry {
    std::string host;      // lower case; "" = any
    uint16_t port = 0;     // 0 = any
    std::string to_host;   // "" = the request's host; IPv6 without brackets
    uint16_t to_port = 0;  // 0 = the request's port
};
policy::Result<ConnectToEntry, std::string> parse_connect_to_entry(std::string_view text);

// scheme://[user[:password]@]host[:port][/] with scheme http, https, socks5 or socks5h.
struct ProxyUrl {
    std::string scheme;
    std::string userinfo;  // as written (percent-encoded), "" = none
    std::string host;      // IPv6 without brackets
    uint16_t port = 0;     // the scheme's default when not written (http 80, https 443, socks 1080)
};
policy::Result<ProxyUrl, std::string> parse_proxy_url(std::string_view text);

// A no-proxy list as CURLOPT_NOPROXY takes it: names separated by commas (spaces allowed),
// "*" for every host; a name matches itself and every name below it (a leading dot is ignored).
// Returns the entries, lower case.
policy::Result<std::vector<std::string>, std::string> parse_no_proxy(std::string_view text);

// Whether `host` bypasses the parent under `entries` (from parse_no_proxy), as libcurl decides
// for host names and IP literals written out in full (CIDR entries are not interpreted here).
bool no_proxy_matches(const std::vector<std::string>& entries, std::string_view host);

}  // namespace proxy
