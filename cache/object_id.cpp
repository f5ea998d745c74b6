#include "cache/object_id.h"

#include <xxhash.h>

#include <cstring>

namespace cache {

ObjectId ObjectId::for_key(std::string_view key) {
    XXH128_canonical_t canonical;
    XXH128_canonicalFromHash(&canonical, XXH3_128bits(key.data(), key.size()));
    ObjectId id;
    static_assert(sizeof(canonical.digest) == sizeof(id.bytes));
    std::memcpy(id.bytes.data(), canonical.digest, sizeof(id.bytes));
    return id;
}

std::string ObjectId::hex() const {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (std::byte b : bytes) {
        auto v = std::to_integer<unsigned>(b);
        out.push_back(kDigits[v >> 4]);
        out.push_back(kDigits[v & 0xf]);
    }
    return out;
}

}  // namespace cache
