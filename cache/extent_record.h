// Extent records: the byte ranges of a sparse object stored at arbitrary offsets (Xet xorbs,
// docs/cache-format.md "Extent records"), beside the chunk records of ordinary objects.
//
//   extents   object id (16 bytes) + start (uint64 big-endian) → extent record
//
// An extent [start, start + length) is verified in pieces of `piece_size` bytes counted from its
// own start (the last piece may be shorter), each with its XXH3-64: a reader hashes whole pieces
// before it returns any byte of them, so verification never needs more than one piece in memory,
// wherever the extent begins. Keys are big-endian so that one object's extents are adjacent and
// in offset order for a cursor; values are little-endian with a version byte, as every record.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "cache/errors.h"
#include "cache/object_id.h"

namespace cache::detail {

inline constexpr uint8_t kExtentRecordVersion = 1;

struct ExtentRecord {
    uint64_t generation = 0;       // the object generation that wrote it
    uint64_t length = 0;           // > 0
    uint32_t piece_size = 0;       // > 0
    std::vector<uint64_t> hashes;  // XXH3-64 (seed 0) of each piece; piece_count() of them

    uint64_t piece_count() const { return length / piece_size + (length % piece_size ? 1 : 0); }
    friend bool operator==(const ExtentRecord&, const ExtentRecord&) = default;
};

using ExtentKey = std::array<std::byte, 24>;

ExtentKey extent_key(const ObjectId& id, uint64_t start);
// Splits an `extents` key; BadRecord unless it is exactly 24 bytes.
Result<std::pair<ObjectId, uint64_t>> decode_extent_key(std::span<const std::byte> key);

// version u8, generation u64, length u64, piece_size u32, count u32, hashes u64 × count.
std::vector<std::byte> encode_extent(const ExtentRecord& extent);
// BadRecord for an unknown version, short or trailing bytes, length or piece_size 0, or a count
// other than piece_count().
Result<ExtentRecord> decode_extent(std::span<const std::byte> bytes);

}  // namespace cache::detail
