#include "cache/extent_record.h"

#include <cstring>

namespace cache::detail {

namespace {

void put_le(std::vector<std::byte>& out, uint64_t v, int n) {
    for (int i = 0; i < n; ++i)
        out.push_back(std::byte(static_cast<uint8_t>(v >> (8 * i))));
}

uint64_t get_le(std::span<const std::byte> in, size_t at, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i)
        v = (v << 8) | std::to_integer<uint64_t>(in[at + i]);
    return v;
}

constexpr size_t kFixed = 1 + 8 + 8 + 4 + 4;

}  // namespace

ExtentKey extent_key(const ObjectId& id, uint64_t start) {
    ExtentKey key;
    std::memcpy(key.data(), id.bytes.data(), id.bytes.size());
    for (int i = 0; i < 8; ++i)
        key[16 + i] = std::byte(static_cast<uint8_t>(start >> (56 - 8 * i)));
    return key;
}

Result<std::pair<ObjectId, uint64_t>> decode_extent_key(std::span<const std::byte> key) {
    if (key.size() != sizeof(ExtentKey)) return fail(Errc::BadRecord);
    ObjectId id;
    std::memcpy(id.bytes.data(), key.data(), id.bytes.size());
    uint64_t start = 0;
    for (int i = 0; i < 8; ++i)
        start = (start << 8) | std::to_integer<uint64_t>(key[16 + i]);
    return std::pair{id, start};
}

std::vector<std::byte> encode_extent(const ExtentRecord& extent) {
    std::vector<std::byte> out;
    out.reserve(kFixed + 8 * extent.hashes.size());
    put_le(out, kExtentRecordVersion, 1);
    put_le(out, extent.generation, 8);
    put_le(out, extent.length, 8);
    put_le(out, extent.piece_size, 4);
    put_le(out, extent.hashes.size(), 4);
    for (uint64_t h : extent.hashes)
        put_le(out, h, 8);
    return out;
}

Result<ExtentRecord> decode_extent(std::span<const std::byte> bytes) {
    if (bytes.size() < kFixed || get_le(bytes, 0, 1) != kExtentRecordVersion)
        return fail(Errc::BadRecord);
    ExtentRecord e;
    e.generation = get_le(bytes, 1, 8);
    e.length = get_le(bytes, 9, 8);
    e.piece_size = static_cast<uint32_t>(get_le(bytes, 17, 4));
    const uint64_t count = get_le(bytes, 21, 4);
    if (e.length == 0 || e.piece_size == 0 || count != e.piece_count() ||
        bytes.size() - kFixed != count * 8)
        return fail(Errc::BadRecord);
    e.hashes.reserve(count);
    for (uint64_t i = 0; i < count; ++i)
        e.hashes.push_back(get_le(bytes, kFixed + 8 * i, 8));
    return e;
}

}  // namespace cache::detail
