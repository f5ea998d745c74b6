// Byte layouts of the LMDB records (docs/cache-format.md is the reference).
//
// Every record starts with a version byte and is written field by field, little-endian, and read
// back with memcpy into values — never by casting pointers into the map, which LMDB aligns to two
// bytes only. Disk bytes are untrusted: every decoder checks lengths, enumerations, internal
// consistency and that no bytes are left over, and answers Errc::BadRecord otherwise. The
// decoders are in `detail::` so the fuzzers can reach them; encode(decode(b)) == b holds for
// every b a decoder accepts.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "cache/errors.h"
#include "cache/object_info.h"

namespace cache {
using Bytes = std::span<const std::byte>;
}

namespace cache::detail {

// Version 2 (kObjectIdentityVersion) appends the content identity fields; a record whose
// identity fields are all default is still written as version 1, so an index stays readable by
// older builds until something in it has been hashed.
inline constexpr uint8_t kObjectRecordVersion = 1;
inline constexpr uint8_t kObjectIdentityVersion = 2;
inline constexpr uint8_t kResolveRecordVersion = 1;
inline constexpr uint8_t kChunkRecordVersion = 1;
inline constexpr uint8_t kCountersRecordVersion = 1;

// Value of a `chunks` entry: the chunk was written (and synced) with these bytes.
struct ChunkRecord {
    uint32_t length = 0;
    uint64_t xxh3 = 0;        // XXH3-64 of the chunk's bytes, seed 0
    uint64_t generation = 0;  // the object generation that wrote it

    friend bool operator==(const ChunkRecord&, const ChunkRecord&) = default;
};

// Value of meta["counters"]: running totals kept in the same transactions as the records they
// count, so they cannot drift from the index across crashes.
struct Counters {
    uint64_t last_generation = 0;
    uint64_t objects = 0;
    uint64_t complete_objects = 0;
    uint64_t bytes_present = 0;

    // Take away an object's, or one chunk's, contribution. Both saturate at zero so that totals
    // that drifted (after an undecodable record) never wrap around and make the cache look full.
    void forget_object(const ObjectInfo& object);
    void forget_bytes(uint64_t bytes);

    friend bool operator==(const Counters&, const Counters&) = default;
};

// Object records hold everything in ObjectInfo except `id`, which is the record's key; decode
// leaves `id` zero for the caller to fill.
std::vector<std::byte> encode_object(const ObjectInfo& object);
Result<ObjectInfo> decode_object(Bytes bytes);

// meta["resolve:" + key] values (ResolveFacts).
std::vector<std::byte> encode_resolve(const ResolveFacts& facts);
Result<ResolveFacts> decode_resolve(Bytes bytes);

std::vector<std::byte> encode_chunk(const ChunkRecord& chunk);
Result<ChunkRecord> decode_chunk(Bytes bytes);

std::vector<std::byte> encode_counters(const Counters& counters);
Result<Counters> decode_counters(Bytes bytes);

// meta["schema"]: a bare little-endian uint32.
std::array<std::byte, 4> encode_schema(uint32_t version);
Result<uint32_t> decode_schema(Bytes bytes);

// `objects` key: the 16 id bytes. `chunks` key: the id bytes then the chunk index as a
// big-endian uint32, so one object's chunks are adjacent and in index order.
using ChunkKey = std::array<std::byte, 20>;
ChunkKey chunk_key(const ObjectId& id, uint32_t index);
// Splits a `chunks` key; BadRecord unless it is exactly 20 bytes.
Result<std::pair<ObjectId, uint32_t>> decode_chunk_key(Bytes key);
Result<ObjectId> decode_object_key(Bytes key);

}  // namespace cache::detail
