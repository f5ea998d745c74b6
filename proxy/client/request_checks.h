// Checks on a client's request before it is forwarded: forwarding loops. Pure functions of their
// arguments; ClientConnection calls them on the loop thread. (Obs-fold, which llhttp does not
// refuse either, is the parser's: proxy/http1/request_parser.h.)
#pragma once

#include <cstdint>
#include <string_view>

#include "policy/header_list.h"
#include "policy/request_target.h"

namespace proxy {

// RFC 9110 §7.6.3: whether a Via field names `pseudonym` as a received-by: this request has been
// through a dlproxy already, so forwarding it again would go round in a loop.
bool via_names(const policy::HeaderList& headers, std::string_view pseudonym);

// Whether host:port (a request target or CONNECT authority, host lower case and without IPv6
// brackets) is this proxy's own listener `bound` (its address as bound, the port resolved).
// Recognises IP literals, including IPv4-mapped IPv6 and the unspecified address (a connection
// to 0.0.0.0 reaches the local host), and "localhost". Other names that resolve to the proxy are
// caught one hop later, by via_names() on the request the proxy sends to itself.
bool targets_listener(std::string_view host, uint16_t port, const policy::HostPort& bound);

}  // namespace proxy
