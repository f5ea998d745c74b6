#include "cache/record_codec.h"

#include <doctest/doctest.h>

#include <functional>
#include <string>

using namespace cache;
using namespace cache::detail;

namespace {

ObjectInfo sample_object() {
    ObjectInfo o;
    o.generation = 42;
    o.key = "http://example.com/model.safetensors";
    o.status = 200;
    o.headers = {{"Content-Type", "application/octet-stream"},
                 {"Set-Cookie", "a=1"},
                 {"Set-Cookie", "b=2"},
                 {"X-Empty", ""}};
    o.validator = {"\"abc\"", "Tue, 15 Nov 1994 12:45:26 GMT"};
    o.complete_length = (uint64_t{5} << 32) + 7;  // > 4 GiB: lengths are 64-bit
    o.chunk_size = kDefaultChunkSize;
    o.state = ObjectState::Partial;
    o.request_time = -5;  // signed: times before the epoch still round-trip
    o.response_time = 1700000000;
    o.created = 1700000001;
    o.last_access = 1700000002;
    o.hit_count = 9;
    o.bytes_present = 12345;
    return o;
}

void check_same(const ObjectInfo& a, const ObjectInfo& b) {
    CHECK(a.generation == b.generation);
    CHECK(a.key == b.key);
    CHECK(a.status == b.status);
    REQUIRE(a.headers.size() == b.headers.size());
    for (size_t i = 0; i < a.headers.size(); ++i) {
        CHECK(a.headers[i].name == b.headers[i].name);
        CHECK(a.headers[i].value == b.headers[i].value);
    }
    CHECK(a.validator == b.validator);
    CHECK(a.complete_length == b.complete_length);
    CHECK(a.chunk_size == b.chunk_size);
    CHECK(a.state == b.state);
    CHECK(a.request_time == b.request_time);
    CHECK(a.response_time == b.response_time);
    CHECK(a.created == b.created);
    CHECK(a.last_access == b.last_access);
    CHECK(a.hit_count == b.hit_count);
    CHECK(a.bytes_present == b.bytes_present);
}

}  // namespace

TEST_CASE("cache/record_codec: an object record round-trips") {
    ObjectInfo in = sample_object();
    auto bytes = encode_object(in);
    CHECK(std::to_integer<int>(bytes[0]) == kObjectRecordVersion);
    auto out = decode_object(bytes);
    REQUIRE(out.has_value());
    check_same(in, *out);
    CHECK(encode_object(*out) == bytes);
}

TEST_CASE("cache/record_codec: chunk and counters records round-trip") {
    ChunkRecord chunk{kDefaultChunkSize, 0x0123456789abcdefULL, 7};
    auto chunk_bytes = encode_chunk(chunk);
    CHECK(chunk_bytes.size() == 21);
    CHECK(decode_chunk(chunk_bytes).value() == chunk);

    Counters counters{100, 3, 2, uint64_t{1} << 40};
    CHECK(decode_counters(encode_counters(counters)).value() == counters);
    CHECK(decode_schema(encode_schema(0x01020304)).value() == 0x01020304u);
}

TEST_CASE("cache/record_codec: fields are little-endian") {
    auto bytes = encode_chunk({0x11223344, 0, 0});
    CHECK(std::to_integer<int>(bytes[1]) == 0x44);
    CHECK(std::to_integer<int>(bytes[4]) == 0x11);
}

TEST_CASE("cache/record_codec: chunk keys sort by object, then by index") {
    ObjectId a = ObjectId::for_key("a");
    auto k1 = chunk_key(a, 1);
    auto k256 = chunk_key(a, 256);
    CHECK(std::lexicographical_compare(k1.begin(), k1.end(), k256.begin(), k256.end()));
    auto split = decode_chunk_key(k256);
    REQUIRE(split.has_value());
    CHECK(split->first == a);
    CHECK(split->second == 256u);
    CHECK_FALSE(decode_chunk_key(std::span(k256).first(19)).has_value());
    CHECK_FALSE(decode_object_key(std::span(k256).first(15)).has_value());
}

TEST_CASE("cache/record_codec: every truncation of a valid record is rejected") {
    auto object = encode_object(sample_object());
    for (size_t n = 0; n < object.size(); ++n) {
        CAPTURE(n);
        CHECK(decode_object(std::span(object).first(n)).error() == Errc::BadRecord);
    }
    auto chunk = encode_chunk({16, 1, 1});
    for (size_t n = 0; n < chunk.size(); ++n)
        CHECK_FALSE(decode_chunk(std::span(chunk).first(n)));
    auto counters = encode_counters({1, 1, 1, 1});
    for (size_t n = 0; n < counters.size(); ++n) {
        CHECK_FALSE(decode_counters(std::span(counters).first(n)));
    }
}

TEST_CASE("cache/record_codec: malformed object records are rejected") {
    struct Case {
        const char* name;
        std::function<void(ObjectInfo&)> edit_value;  // produces an invalid record by value
        std::function<void(std::vector<std::byte>&)> edit_bytes;
    };
    // Offsets into the v1 layout: version 0, generation 1, status 9, state 11, chunk_size 12.
    const Case cases[] = {
        {"unknown version", nullptr, [](auto& b) { b[0] = std::byte{2}; }},
        {"unknown state", nullptr, [](auto& b) { b[11] = std::byte{2}; }},
        {"zero chunk size", [](ObjectInfo& o) { o.chunk_size = 0; }, nullptr},
        {"status below 100", [](ObjectInfo& o) { o.status = 99; }, nullptr},
        {"status above 999", [](ObjectInfo& o) { o.status = 1000; }, nullptr},
        {"more bytes than the length",
         [](ObjectInfo& o) { o.bytes_present = o.complete_length + 1; }, nullptr},
        {"complete but bytes missing", [](ObjectInfo& o) { o.state = ObjectState::Complete; },
         nullptr},
        {"too many chunks",
         [](ObjectInfo& o) {
             o.chunk_size = 1;
             o.complete_length = uint64_t{1} << 33;
         },
         nullptr},
        {"trailing byte", nullptr, [](auto& b) { b.push_back(std::byte{0}); }},
    };
    for (const Case& c : cases) {
        CAPTURE(c.name);
        ObjectInfo o = sample_object();
        if (c.edit_value) c.edit_value(o);
        auto bytes = encode_object(o);
        if (c.edit_bytes) c.edit_bytes(bytes);
        CHECK(decode_object(bytes).error() == Errc::BadRecord);
    }
}

TEST_CASE("cache/record_codec: a header count the record cannot hold is rejected early") {
    ObjectInfo o = sample_object();
    o.headers.clear();
    auto bytes = encode_object(o);
    // With no headers the count is the last field.
    for (size_t i = bytes.size() - 4; i < bytes.size(); ++i)
        bytes[i] = std::byte{0xff};
    CHECK(decode_object(bytes).error() == Errc::BadRecord);
}

TEST_CASE("cache/record_codec: malformed chunk and counters records are rejected") {
    auto zero_length = encode_chunk({0, 1, 1});
    CHECK_FALSE(decode_chunk(zero_length));
    auto chunk = encode_chunk({16, 1, 1});
    chunk[0] = std::byte{9};
    CHECK_FALSE(decode_chunk(chunk));
    CHECK_FALSE(decode_counters(encode_counters({1, 1, 2, 0})));  // more complete than objects
    std::vector<std::byte> garbage(40, std::byte{0xa5});
    CHECK_FALSE(decode_object(garbage));
    CHECK_FALSE(decode_chunk(garbage));
    CHECK_FALSE(decode_counters(garbage));
    CHECK_FALSE(decode_schema(garbage));
}

TEST_CASE("cache/record_codec: content identity makes a version 2 record that round-trips") {
    ObjectInfo in = sample_object();
    in.content_check = ContentCheck::Mismatch;
    in.sha256 = std::string(64, 'a');
    in.announced_sha256 = std::string(64, 'b');
    auto bytes = encode_object(in);
    CHECK(std::to_integer<int>(bytes[0]) == kObjectIdentityVersion);
    auto out = decode_object(bytes);
    REQUIRE(out.has_value());
    check_same(in, *out);
    CHECK(out->content_check == ContentCheck::Mismatch);
    CHECK(out->sha256 == in.sha256);
    CHECK(out->announced_sha256 == in.announced_sha256);
    CHECK(encode_object(*out) == bytes);
    for (size_t n = 0; n < bytes.size(); ++n)
        CHECK(decode_object(std::span(bytes).first(n)).error() == Errc::BadRecord);
    // An unknown verdict, or a version 2 record with nothing in it (it would not round-trip).
    auto bad = bytes;
    bad[bytes.size() - 2 * (4 + 64) - 1] = std::byte{4};
    CHECK(decode_object(bad).error() == Errc::BadRecord);
    ObjectInfo plain = sample_object();
    auto v1 = encode_object(plain);
    auto empty_v2 = v1;
    empty_v2[0] = std::byte{kObjectIdentityVersion};
    for (int i = 0; i < 9; ++i)
        empty_v2.push_back(std::byte{0});  // verdict 0, two empty strings
    CHECK(decode_object(empty_v2).error() == Errc::BadRecord);
    // A mixed-source object before its verdict: no sha256 yet, but not all default either.
    ObjectInfo mixed = sample_object();
    mixed.content_check = ContentCheck::MixedPending;
    auto mixed_bytes = encode_object(mixed);
    CHECK(std::to_integer<int>(mixed_bytes[0]) == kObjectIdentityVersion);
    REQUIRE(decode_object(mixed_bytes).has_value());
    CHECK(decode_object(mixed_bytes)->content_check == ContentCheck::MixedPending);
}

TEST_CASE("cache/record_codec: a resolve record round-trips and rejects truncation") {
    ResolveFacts f{std::string(64, 'c'), 1234, "https://cdn-lfs.hf.co/x", "abc", 1700000000};
    auto bytes = encode_resolve(f);
    CHECK(decode_resolve(bytes).value() == f);
    for (size_t n = 0; n < bytes.size(); ++n)
        CHECK_FALSE(decode_resolve(std::span(bytes).first(n)));
}
