// Client allow lists: CIDR blocks such as "127.0.0.0/8" or "::1/128", and the check of a client
// address against them.
//
// Pure: addresses arrive as bytes (4 for IPv4, 16 for IPv6). An IPv4-mapped IPv6 address
// (::ffff:a.b.c.d) is matched as the IPv4 address it carries, so a dual-stack listener applies
// IPv4 rules the way an admin expects.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "policy/result.h"

namespace policy {

enum class CidrErrc { BadAddress, BadPrefix };

std::string_view to_string(CidrErrc e);

struct Cidr {
    bool v6 = false;
    std::array<uint8_t, 16> addr{};  // first 4 bytes used for IPv4
    int prefix = 0;                  // bits
    std::string to_string() const;
};

// "a.b.c.d/n", "x::y/n", or a bare address (a /32 or /128 block).
Result<Cidr, CidrErrc> parse_cidr(std::string_view text);

// `addr` is 4 bytes (IPv4) or 16 bytes (IPv6).
bool cidr_contains(const Cidr& block, std::span<const uint8_t> addr);

bool address_allowed(const std::vector<Cidr>& allow, std::span<const uint8_t> addr);

// The default allow list: loopback only (127.0.0.0/8 and ::1/128).
std::vector<Cidr> loopback_only();

}  // namespace policy
