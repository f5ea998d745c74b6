#include "policy/address_list.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace policy {

std::string_view to_string(CidrErrc e) {
    switch (e) {
        case CidrErrc::BadAddress:
            return "invalid IP address in CIDR block";
        case CidrErrc::BadPrefix:
            return "invalid prefix length in CIDR block";
    }
    return "bad CIDR block";
}

Result<Cidr, CidrErrc> parse_cidr(std::string_view text) {
    size_t slash = text.find('/');
    std::string address(text.substr(0, slash));
    Cidr out;
    if (inet_pton(AF_INET, address.c_str(), out.addr.data()) == 1) {
        out.v6 = false;
        out.prefix = 32;
    } else if (inet_pton(AF_INET6, address.c_str(), out.addr.data()) == 1) {
        out.v6 = true;
        out.prefix = 128;
    } else {
        return fail(CidrErrc::BadAddress);
    }
    if (slash != std::string_view::npos) {
        std::string_view p = text.substr(slash + 1);
        int prefix = -1;
        auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
        if (p.empty() || ec != std::errc() || ptr != p.data() + p.size() || prefix < 0 ||
            prefix > out.prefix)
            return fail(CidrErrc::BadPrefix);
        out.prefix = prefix;
    }
    return out;
}

std::string Cidr::to_string() const {
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(v6 ? AF_INET6 : AF_INET, addr.data(), buf, sizeof buf);
    return std::string(buf) + "/" + std::to_string(prefix);
}

bool cidr_contains(const Cidr& block, std::span<const uint8_t> addr) {
    static constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (addr.size() == 16 && !block.v6 && std::memcmp(addr.data(), kMappedPrefix, 12) == 0)
        addr = addr.subspan(12);  // ::ffff:a.b.c.d is matched against IPv4 rules
    bool v6 = addr.size() == 16;
    if (v6 != block.v6 || (addr.size() != 4 && addr.size() != 16)) return false;
    int full = block.prefix / 8;
    if (std::memcmp(addr.data(), block.addr.data(), static_cast<size_t>(full)) != 0) return false;
    int rest = block.prefix % 8;
    if (rest == 0) return true;
    uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
    return (addr[static_cast<size_t>(full)] & mask) ==
           (block.addr[static_cast<size_t>(full)] & mask);
}

bool address_allowed(const std::vector<Cidr>& allow, std::span<const uint8_t> addr) {
    for (const auto& block : allow)
        if (cidr_contains(block, addr)) return true;
    return false;
}

std::vector<Cidr> loopback_only() {
    return {*parse_cidr("127.0.0.0/8"), *parse_cidr("::1/128")};
}

}  // namespace policy
