// Socket addresses as text and bytes, for logs, access lines and allow-list checks.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <vector>

namespace proxy {

// "127.0.0.1:3128" or "[::1]:3128"; "-" for an address family other than IPv4/IPv6.
std::string format_socket_address(const sockaddr* sa);

// The address bytes (4 for IPv4, 16 for IPv6; empty otherwise), as policy::address_allowed
// takes them.
std::vector<uint8_t> address_bytes(const sockaddr* sa);

}  // namespace proxy
