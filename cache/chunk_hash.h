// chunk_hash: the XXH3-64 of a chunk or extent piece, the checksum every stored byte is read
// back against.
//
// Debian's libxxhash exports runtime-dispatched variants (XXH3_64bits_dispatch: SSE2, AVX2 or
// AVX-512, whichever the CPU has) beside the plain functions, which are built for baseline
// x86-64 only. The dispatched one returns the same value and ran 4.5x faster here (24 against
// 5.3 GB/s over 1 MiB buffers), which matters because every fill and every hit hashes every
// byte (docs/benchmarks.md). Where the library has no dispatch (other architectures), the plain
// function is used.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace cache {

uint64_t chunk_hash(std::span<const std::byte> bytes);

// Which implementation chunk_hash uses: "dispatch" or "plain" (for the startup log).
const char* chunk_hash_implementation();

}  // namespace cache
