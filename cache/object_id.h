// ObjectId: the fixed-size name of a cached object, derived from its cache key.
//
// XXH3-128 of the key, kept in XXH128's canonical (big-endian) byte order so the hex rendering
// and the LMDB key order agree. Body file names are built from this hex and never from the key
// itself, so no byte of a URL reaches the file system. A 128-bit hash makes accidental collisions
// negligible; the object record still stores the full key and lookups compare it.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <string>
#include <string_view>

namespace cache {

struct ObjectId {
    std::array<std::byte, 16> bytes{};

    static ObjectId for_key(std::string_view key);
    // 32 lower-case hex digits.
    std::string hex() const;

    friend auto operator<=>(const ObjectId&, const ObjectId&) = default;
};

}  // namespace cache
