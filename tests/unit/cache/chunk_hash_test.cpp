// chunk_hash must return exactly what plain XXH3_64bits returns: every chunk record already on
// disk was written with the plain function, and a different value would quarantine them all.
#include <doctest/doctest.h>
#include <xxhash.h>

#include <cstring>
#include <string>
#include <vector>

#include "cache/chunk_hash.h"

TEST_CASE("chunk_hash equals the plain XXH3_64bits at every size class") {
    std::vector<std::byte> bytes((1u << 20) + 7);
    uint32_t state = 2463534242u;
    for (auto& b : bytes) {
        state ^= state << 13, state ^= state >> 17, state ^= state << 5;
        b = static_cast<std::byte>(state);
    }
    // XXH3 has separate code paths for 0, 1-3, 4-8, 9-16, 17-128, 129-240 and longer inputs;
    // the long path is the one the CPU dispatch replaces.
    for (size_t size : {0, 1, 3, 8, 16, 100, 240, 241, 1024, 4096, 65537, 1 << 20, (1 << 20) + 7}) {
        CAPTURE(size);
        std::span<const std::byte> part(bytes.data(), size);
        CHECK(cache::chunk_hash(part) == XXH3_64bits(part.data(), part.size()));
    }
    CHECK(cache::chunk_hash({}) == 0x2D06800538D394C2ull);  // XXH3_64bits of no bytes
}

TEST_CASE("chunk_hash names its implementation") {
    std::string name = cache::chunk_hash_implementation();
    CHECK((name == "dispatch" || name == "plain"));
}
