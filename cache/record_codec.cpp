#include "cache/record_codec.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>

namespace cache::detail {

namespace {

class Writer {
  public:
    void u8(uint8_t v) { out_.push_back(std::byte{v}); }
    void u16(uint16_t v) { le(v, 2); }
    void u32(uint32_t v) { le(v, 4); }
    void u64(uint64_t v) { le(v, 8); }
    void i64(int64_t v) { le(static_cast<uint64_t>(v), 8); }
    void str(const std::string& s) {
        u32(static_cast<uint32_t>(s.size()));
        const auto* p = reinterpret_cast<const std::byte*>(s.data());
        out_.insert(out_.end(), p, p + s.size());
    }
    std::vector<std::byte> take() { return std::move(out_); }

  private:
    void le(uint64_t v, int n) {
        for (int i = 0; i < n; ++i)
            out_.push_back(std::byte(static_cast<uint8_t>(v >> (8 * i))));
    }
    std::vector<std::byte> out_;
};

// Reads fields in order; after the first short read every later read fails too, so a decoder
// checks `ok()` once at the end (Knot's sticky-error transaction, applied to a byte cursor).
class Reader {
  public:
    explicit Reader(Bytes in) : in_(in) {}
    uint8_t u8() { return static_cast<uint8_t>(le(1)); }
    uint16_t u16() { return static_cast<uint16_t>(le(2)); }
    uint32_t u32() { return static_cast<uint32_t>(le(4)); }
    uint64_t u64() { return le(8); }
    int64_t i64() { return static_cast<int64_t>(le(8)); }
    std::string str() {
        uint32_t n = u32();
        if (!take(n)) return {};
        std::string s(n, '\0');
        std::memcpy(s.data(), in_.data() + pos_ - n, n);
        return s;
    }
    size_t remaining() const { return ok_ ? in_.size() - pos_ : 0; }
    bool ok() const { return ok_; }
    bool done() const { return ok_ && pos_ == in_.size(); }

  private:
    bool take(size_t n) {
        if (!ok_ || in_.size() - pos_ < n) return ok_ = false;
        pos_ += n;
        return true;
    }
    uint64_t le(int n) {
        if (!take(static_cast<size_t>(n))) return 0;
        uint64_t v = 0;
        for (int i = 0; i < n; ++i) {
            v |= uint64_t{std::to_integer<uint8_t>(in_[pos_ - n + i])} << (8 * i);
        }
        return v;
    }
    Bytes in_;
    size_t pos_ = 0;
    bool ok_ = true;
};

auto bad_record() {
    return fail(Errc::BadRecord);
}

}  // namespace

std::vector<std::byte> encode_object(const ObjectInfo& o) {
    Writer w;
    const bool identity = o.content_check != ContentCheck::Unverified || !o.sha256.empty() ||
                          !o.announced_sha256.empty();
    w.u8(identity ? kObjectIdentityVersion : kObjectRecordVersion);
    w.u64(o.generation);
    w.u16(o.status);
    w.u8(static_cast<uint8_t>(o.state));
    w.u32(o.chunk_size);
    w.u64(o.complete_length);
    w.u64(o.bytes_present);
    w.i64(o.request_time);
    w.i64(o.response_time);
    w.i64(o.created);
    w.i64(o.last_access);
    w.u64(o.hit_count);
    w.str(o.key);
    w.str(o.validator.etag);
    w.str(o.validator.last_modified);
    w.u32(static_cast<uint32_t>(o.headers.size()));
    for (const auto& h : o.headers) {
        w.str(h.name);
        w.str(h.value);
    }
    if (identity) {
        w.u8(static_cast<uint8_t>(o.content_check));
        w.str(o.sha256);
        w.str(o.announced_sha256);
    }
    return w.take();
}

Result<ObjectInfo> decode_object(Bytes bytes) {
    Reader r(bytes);
    const uint8_t version = r.u8();
    if (version != kObjectRecordVersion && version != kObjectIdentityVersion) return bad_record();
    ObjectInfo o;
    o.generation = r.u64();
    o.status = r.u16();
    uint8_t state = r.u8();
    o.chunk_size = r.u32();
    o.complete_length = r.u64();
    o.bytes_present = r.u64();
    o.request_time = r.i64();
    o.response_time = r.i64();
    o.created = r.i64();
    o.last_access = r.i64();
    o.hit_count = r.u64();
    o.key = r.str();
    o.validator.etag = r.str();
    o.validator.last_modified = r.str();
    uint32_t header_count = r.u32();
    // Each header takes at least its two length fields: reject counts the input cannot hold
    // before reserving memory for them.
    if (!r.ok() || header_count > r.remaining() / 8) return bad_record();
    o.headers.reserve(header_count);
    for (uint32_t i = 0; i < header_count; ++i) {
        policy::Header h;
        h.name = r.str();
        h.value = r.str();
        o.headers.push_back(std::move(h));
    }
    if (version == kObjectIdentityVersion) {
        uint8_t check = r.u8();
        o.sha256 = r.str();
        o.announced_sha256 = r.str();
        if (check > static_cast<uint8_t>(ContentCheck::MixedPending)) return bad_record();
        o.content_check = static_cast<ContentCheck>(check);
        // Written as version 1 when all default: anything else would not round-trip.
        if (o.content_check == ContentCheck::Unverified && o.sha256.empty() &&
            o.announced_sha256.empty())
            return bad_record();
    }
    if (!r.done()) return bad_record();
    if (state > static_cast<uint8_t>(ObjectState::Complete)) return bad_record();
    o.state = static_cast<ObjectState>(state);
    if (o.status < 100 || o.status > 999 || o.chunk_size == 0) return bad_record();
    if (o.chunk_count() > std::numeric_limits<uint32_t>::max()) return bad_record();
    if (o.bytes_present > o.complete_length) return bad_record();
    if (o.complete() && o.bytes_present != o.complete_length) return bad_record();
    return o;
}

std::vector<std::byte> encode_chunk(const ChunkRecord& c) {
    Writer w;
    w.u8(kChunkRecordVersion);
    w.u32(c.length);
    w.u64(c.xxh3);
    w.u64(c.generation);
    return w.take();
}

Result<ChunkRecord> decode_chunk(Bytes bytes) {
    Reader r(bytes);
    if (r.u8() != kChunkRecordVersion) return bad_record();
    ChunkRecord c;
    c.length = r.u32();
    c.xxh3 = r.u64();
    c.generation = r.u64();
    if (!r.done() || c.length == 0) return bad_record();
    return c;
}

void Counters::forget_object(const ObjectInfo& object) {
    objects -= std::min<uint64_t>(objects, 1);
    if (object.complete()) complete_objects -= std::min<uint64_t>(complete_objects, 1);
    forget_bytes(object.bytes_present);
}

void Counters::forget_bytes(uint64_t bytes) {
    bytes_present -= std::min(bytes_present, bytes);
}

std::vector<std::byte> encode_counters(const Counters& c) {
    Writer w;
    w.u8(kCountersRecordVersion);
    w.u64(c.last_generation);
    w.u64(c.objects);
    w.u64(c.complete_objects);
    w.u64(c.bytes_present);
    return w.take();
}

Result<Counters> decode_counters(Bytes bytes) {
    Reader r(bytes);
    if (r.u8() != kCountersRecordVersion) return bad_record();
    Counters c;
    c.last_generation = r.u64();
    c.objects = r.u64();
    c.complete_objects = r.u64();
    c.bytes_present = r.u64();
    if (!r.done() || c.complete_objects > c.objects) return bad_record();
    return c;
}

std::vector<std::byte> encode_resolve(const ResolveFacts& f) {
    Writer w;
    w.u8(kResolveRecordVersion);
    w.str(f.sha256);
    w.u64(f.size);
    w.str(f.location_key);
    w.str(f.commit);
    w.i64(f.seen);
    return w.take();
}

Result<ResolveFacts> decode_resolve(Bytes bytes) {
    Reader r(bytes);
    if (r.u8() != kResolveRecordVersion) return bad_record();
    ResolveFacts f;
    f.sha256 = r.str();
    f.size = r.u64();
    f.location_key = r.str();
    f.commit = r.str();
    f.seen = r.i64();
    if (!r.done()) return bad_record();
    return f;
}

std::array<std::byte, 4> encode_schema(uint32_t version) {
    std::array<std::byte, 4> out;
    for (int i = 0; i < 4; ++i)
        out[i] = std::byte(static_cast<uint8_t>(version >> (8 * i)));
    return out;
}

Result<uint32_t> decode_schema(Bytes bytes) {
    Reader r(bytes);
    uint32_t version = r.u32();
    if (!r.done()) return bad_record();
    return version;
}

ChunkKey chunk_key(const ObjectId& id, uint32_t index) {
    ChunkKey key;
    std::memcpy(key.data(), id.bytes.data(), id.bytes.size());
    for (int i = 0; i < 4; ++i)
        key[16 + i] = std::byte(static_cast<uint8_t>(index >> (24 - 8 * i)));
    return key;
}

Result<std::pair<ObjectId, uint32_t>> decode_chunk_key(Bytes key) {
    if (key.size() != sizeof(ChunkKey)) return bad_record();
    ObjectId id;
    std::memcpy(id.bytes.data(), key.data(), id.bytes.size());
    uint32_t index = 0;
    for (int i = 0; i < 4; ++i)
        index = (index << 8) | std::to_integer<uint32_t>(key[16 + i]);
    return std::pair{id, index};
}

Result<ObjectId> decode_object_key(Bytes key) {
    ObjectId id;
    if (key.size() != id.bytes.size()) return bad_record();
    std::memcpy(id.bytes.data(), key.data(), id.bytes.size());
    return id;
}

}  // namespace cache::detail
