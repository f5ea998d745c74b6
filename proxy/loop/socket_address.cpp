#include "proxy/loop/socket_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

namespace proxy {

std::string format_socket_address(const sockaddr* sa) {
    char host[INET6_ADDRSTRLEN] = {};
    std::string out;
    if (sa->sa_family == AF_INET) {
        auto* in = reinterpret_cast<const sockaddr_in*>(sa);
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        out.append(host).append(":").append(std::to_string(ntohs(in->sin_port)));
    } else if (sa->sa_family == AF_INET6) {
        auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        out.append("[").append(host).append("]:").append(std::to_string(ntohs(in6->sin6_port)));
    } else {
        out = "-";
    }
    return out;
}

std::vector<uint8_t> address_bytes(const sockaddr* sa) {
    if (sa->sa_family == AF_INET) {
        auto* b =
            reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in*>(sa)->sin_addr);
        return {b, b + 4};
    }
    if (sa->sa_family == AF_INET6) {
        auto* b =
            reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr);
        return {b, b + 16};
    }
    return {};
}

}  // namespace proxy
