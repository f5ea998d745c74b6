// ConnectState: what a CONNECT made of a ClientConnection. Before any CONNECT, nothing. A CONNECT
// to a host that is not intercepted becomes a relayed Tunnel (tunnel.h) until it closes, and the
// connection closes with it. A CONNECT to an intercepted host makes the connection a TLS server
// for the rest of its life (client_intercept.cpp, docs/https.md): bytes read are decrypted
// before the parser sees them, every write is encrypted, and every request goes to the CONNECT
// target over https.
//
// Thread: the loop thread. Owned by its ClientConnection; the Tunnel frees itself and reports
// through ClientConnection::on_tunnel_closed (the connection then forgets it).
#pragma once

#include <memory>

#include "policy/request_target.h"

namespace proxy {

class Tunnel;
namespace tls {
class TlsSession;  // complete where a ConnectState is destroyed (client_connection.cpp)
}

struct ConnectState {
    Tunnel* tunnel = nullptr;  // a relayed CONNECT, while it runs

    // An intercepted CONNECT: set for the rest of the connection once answered.
    std::unique_ptr<tls::TlsSession> tls;
    policy::HostPort intercepted;  // the CONNECT target: every request goes there
};

}  // namespace proxy
