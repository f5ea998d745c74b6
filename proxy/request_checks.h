// Checks on a client's request that llhttp does not make: obs-fold in the header section and
// forwarding loops. Pure functions of their arguments; ClientConnection calls them on the loop
// thread while a request head is parsed (obs-fold) and before it is forwarded (loops).
#pragma once

#include <cstdint>
#include <string_view>

#include "policy/header_list.h"
#include "policy/request_target.h"

namespace proxy {

// llhttp 8.1 unfolds obs-fold (a header line that starts with SP or HT continues the previous
// value) instead of refusing it, and RFC 9112 §5.2 lets a server answer 400 instead: a fold is
// the classic way to make a proxy and an origin disagree about a header (`Transfer-Encoding:`
// CRLF ` chunked`). llhttp reports the continuation as a further piece of the same value; this
// tells such a piece from a value split by a read boundary by looking at the bytes before it.
//
// `at` is where llhttp's value span starts inside the buffer [buffer_begin, ...) being parsed;
// `previous_non_ws` is the last byte that was neither SP nor HT in the buffers parsed before it
// ('\0' if none). True when the whitespace before `at` follows a line feed.
bool value_starts_folded_line(const char* at, const char* buffer_begin, char previous_non_ws);

// The last byte of `data` that is neither SP nor HT, or `previous` when there is none.
char last_non_whitespace(std::string_view data, char previous);

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
