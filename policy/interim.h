// Interim (1xx) responses on their way to the client (RFC 9110 §15.2).
//
// "A proxy MUST forward 1xx responses unless the proxy itself requested the generation of the
// 1xx response." dlproxy forwards them as they arrive, before the final response, on pass-through
// and on a fill's first answer, except:
//   - 100 Continue: libcurl asked for it (its own Expect: 100-continue), and dlproxy answers the
//     client's Expect itself (docs/life-of-a-request.md step 4);
//   - 101 Switching Protocols: a final answer to an upgrade, not an interim one;
//   - to an HTTP/1.0 client, which cannot read them ("A server MUST NOT send a 1xx response to
//     an HTTP/1.0 client", §15.2).
// Interim responses are never stored (RFC 9111 §3: only final responses are), so a hit has none.
#pragma once

namespace policy {

bool forwards_interim(int status, bool client_http10);

}  // namespace policy
