// The LMDB record decoders of cache/record_codec.h. Disk bytes are untrusted: a torn write, a
// flipped bit or an index from another program must decode to BadRecord, never to a value that
// breaks the store's arithmetic.
//
// Input: the first byte picks the decoder (object, chunk, counters, schema, chunk key, object
// key; modulo 6), the rest is the record.
//
// Properties, for every input a decoder accepts:
//   - encode(decode(b)) == b, byte for byte (no field is dropped, defaulted or normalised);
//   - the decoded value keeps the invariants the store relies on: an object has a status in
//     100..999, a non-zero chunk size, at most 2^32 chunks, bytes_present <= complete_length
//     (equal when complete), and chunk_length() sums to complete_length; a chunk is non-empty;
//     counters have complete_objects <= objects.
#include <cstdint>
#include <cstring>
#include <vector>

#include "cache/record_codec.h"
#include "fuzz/fuzz_check.h"

namespace {

namespace cd = cache::detail;

template <class Container>
bool equal_bytes(const Container& encoded, cache::Bytes input) {
    return encoded.size() == input.size() &&
           (input.empty() || std::memcmp(encoded.data(), input.data(), input.size()) == 0);
}

void check_object(cache::Bytes in) {
    auto o = cd::decode_object(in);
    if (!o) {
        FUZZ_CHECK(o.error() == cache::Errc::BadRecord);
        return;
    }
    FUZZ_CHECK(equal_bytes(cd::encode_object(*o), in));
    FUZZ_CHECK(o->status >= 100 && o->status <= 999 && o->chunk_size > 0);
    FUZZ_CHECK(o->chunk_count() <= UINT32_MAX);
    FUZZ_CHECK(o->bytes_present <= o->complete_length);
    FUZZ_CHECK(!o->complete() || o->bytes_present == o->complete_length);
    uint64_t n = o->chunk_count();
    if (n == 0) {
        FUZZ_CHECK(o->complete_length == 0);
        return;
    }
    // Every chunk but the last is full; the last ends exactly at the complete length.
    FUZZ_CHECK(o->chunk_length(0) == std::min<uint64_t>(o->chunk_size, o->complete_length));
    FUZZ_CHECK(o->chunk_length(n - 1) > 0);
    FUZZ_CHECK(o->chunk_begin(n - 1) + o->chunk_length(n - 1) == o->complete_length);
    FUZZ_CHECK(o->chunk_length(n) == 0);
    FUZZ_CHECK(o->chunk_of(o->complete_length - 1) == n - 1);
}

void check_chunk(cache::Bytes in) {
    auto c = cd::decode_chunk(in);
    if (!c) return;
    FUZZ_CHECK(c->length > 0);
    FUZZ_CHECK(equal_bytes(cd::encode_chunk(*c), in));
}

void check_counters(cache::Bytes in) {
    auto c = cd::decode_counters(in);
    if (!c) return;
    FUZZ_CHECK(c->complete_objects <= c->objects);
    FUZZ_CHECK(equal_bytes(cd::encode_counters(*c), in));
    cd::Counters drained = *c;
    drained.forget_bytes(UINT64_MAX);
    FUZZ_CHECK(drained.bytes_present == 0);
}

void check_schema(cache::Bytes in) {
    if (auto v = cd::decode_schema(in)) FUZZ_CHECK(equal_bytes(cd::encode_schema(*v), in));
}

void check_keys(cache::Bytes in) {
    if (auto k = cd::decode_chunk_key(in)) {
        FUZZ_CHECK(equal_bytes(cd::chunk_key(k->first, k->second), in));
        FUZZ_CHECK(cd::chunk_key(k->first, 0) <= cd::chunk_key(k->first, k->second));
    }
    if (auto id = cd::decode_object_key(in)) FUZZ_CHECK(equal_bytes(id->bytes, in));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    cache::Bytes record(reinterpret_cast<const std::byte*>(data) + 1, size - 1);
    switch (data[0] % 6) {
        case 0:
            check_object(record);
            break;
        case 1:
            check_chunk(record);
            break;
        case 2:
            check_counters(record);
            break;
        case 3:
            check_schema(record);
            break;
        default:
            check_keys(record);
            break;
    }
    return 0;
}
