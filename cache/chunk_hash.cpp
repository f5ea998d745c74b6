#include "cache/chunk_hash.h"

#include <xxhash.h>
#if DLPROXY_XXH3_DISPATCH
#include <xxh_x86dispatch.h>  // replaces XXH3_64bits with XXH3_64bits_dispatch
#endif

namespace cache {

uint64_t chunk_hash(std::span<const std::byte> bytes) {
    return XXH3_64bits(bytes.data(), bytes.size());
}

const char* chunk_hash_implementation() {
    return DLPROXY_XXH3_DISPATCH ? "dispatch" : "plain";
}

}  // namespace cache
