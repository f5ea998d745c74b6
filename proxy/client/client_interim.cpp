// ClientConnection: interim (1xx) responses forwarded before the final head (RFC 9110 §15.2,
// policy/interim.h), from a pass-through transfer or from the fill this client waits for.
#include <string>

#include "policy/interim.h"
#include "proxy/client/client_connection.h"

namespace proxy {

void ClientConnection::on_upstream_interim(int status, std::string_view reason,
                                           const policy::HeaderList& headers) {
    send_interim(status, reason, headers);
}

void ClientConnection::send_interim(int status, std::string_view reason,
                                    const policy::HeaderList& headers) {
    if (socket_.closed || exchange_.head_sent ||
        !policy::forwards_interim(status, parser_.head().http10()))
        return;
    // Mirror mode rewrites the final answer's links onto mirror URLs (mirror_answer.h); an
    // Early Hints Link would point clients past the mirror, so none is forwarded there.
    if (exchange_.mirror) return;
    std::string head = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) + "\r\n";
    for (const auto& h : policy::end_to_end(headers))
        head += h.name + ": " + h.value + "\r\n";
    head += "\r\n";
    write(std::move(head));
}

}  // namespace proxy
