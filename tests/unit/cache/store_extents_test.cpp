// Sparse objects: extents at unaligned offsets, verified in pieces, never overlapping.
#include <doctest/doctest.h>

#include <fstream>

#include "cache/extent_record.h"
#include "cache/store.h"
#include "tests/unit/cache/test_support.h"

using namespace cache;
using namespace cache::test;
using policy::ByteRange;

namespace {

constexpr uint64_t kLength = 1000;  // the xorb; pieces of 16 bytes (small_chunks)

ObjectHead xorb_head() {
    auto head = head_for("xet-xorb:default/abc", kLength);
    head.status = 206;
    return head;
}

std::vector<std::byte> slice(const std::vector<std::byte>& all, uint64_t a, uint64_t b) {
    return {all.begin() + static_cast<ptrdiff_t>(a), all.begin() + static_cast<ptrdiff_t>(b)};
}

ExtentWrite write_of(const std::vector<std::byte>& all, uint64_t a, uint64_t b) {
    return {a, std::span(all).subspan(a, b - a)};
}

Result<std::vector<std::byte>> read(Store& store, std::vector<ByteRange> ranges) {
    auto object = store.lookup("xet-xorb:default/abc").value().value();
    std::vector<std::byte> out;
    if (auto r = store.read_extents(object, ranges, out); !r) return policy::fail(r.error());
    return out;
}

}  // namespace

TEST_CASE("cache/extent_record: round trip and rejects") {
    detail::ExtentRecord r{7, 40, 16, {1, 2, 3}};
    auto bytes = detail::encode_extent(r);
    CHECK(bytes.size() == 25 + 24);
    CHECK(detail::decode_extent(bytes).value() == r);
    auto short_by_one = bytes;
    short_by_one.pop_back();
    CHECK_FALSE(detail::decode_extent(short_by_one));
    auto wrong_count = detail::encode_extent({7, 40, 16, {1, 2}});
    CHECK_FALSE(detail::decode_extent(wrong_count));
    auto zero = detail::encode_extent({7, 0, 16, {}});
    CHECK_FALSE(detail::decode_extent(zero));
    auto bad_version = bytes;
    bad_version[0] = std::byte{9};
    CHECK_FALSE(detail::decode_extent(bad_version));
    auto key = detail::extent_key(ObjectId::for_key("k"), 0x0102030405060708);
    auto back = detail::decode_extent_key(key).value();
    CHECK(back.first == ObjectId::for_key("k"));
    CHECK(back.second == 0x0102030405060708);
}

TEST_CASE("cache/store_extents: unaligned ranges in, any covered ranges out") {
    TempDir dir;
    auto store = open_store(dir.path());
    const auto all = pattern_bytes(kLength, 3);
    std::vector<ExtentWrite> first = {write_of(all, 5, 100), write_of(all, 300, 333)};
    CHECK(store->put_extents(xorb_head(), first, 100).value() == 95 + 33);

    CHECK(read(*store, {{5, 100}}).value() == slice(all, 5, 100));
    // Several ranges, in request order, inside pieces and across piece boundaries.
    auto got = read(*store, {{310, 320}, {7, 9}, {17, 50}}).value();
    auto want = slice(all, 310, 320);
    for (auto part : {slice(all, 7, 9), slice(all, 17, 50)})
        want.insert(want.end(), part.begin(), part.end());
    CHECK(got == want);
    CHECK(read(*store, {{4, 10}}).error() == Errc::Missing);
    CHECK(read(*store, {{90, 301}}).error() == Errc::Missing);

    // An overlapping answer records only what is new; extents never overlap.
    std::vector<ExtentWrite> second = {write_of(all, 50, 310)};
    CHECK(store->put_extents(xorb_head(), second, 101).value() == 200);
    auto object = store->lookup("xet-xorb:default/abc").value().value();
    CHECK(store->present_extents(object).value() ==
          std::vector<ByteRange>{{5, 100}, {100, 300}, {300, 333}});
    CHECK(object.bytes_present == 328);
    CHECK(store->stats().value().bytes_present == 328);
    CHECK(read(*store, {{5, 333}}).value() == slice(all, 5, 333));
    CHECK(store->put_extents(xorb_head(), second, 102).value() == 0);

    auto past = std::vector<ExtentWrite>{write_of(all, 990, 1000)};
    past[0].offset = 995;
    CHECK(store->put_extents(xorb_head(), past, 103).error() == Errc::InvalidArgument);
}

TEST_CASE("cache/store_extents: a flipped byte is never returned; the extent is dropped") {
    TempDir dir;
    auto store = open_store(dir.path());
    const auto all = pattern_bytes(kLength, 5);
    std::vector<ExtentWrite> w = {write_of(all, 10, 200), write_of(all, 400, 420)};
    REQUIRE(store->put_extents(xorb_head(), w, 100));
    auto object = store->lookup("xet-xorb:default/abc").value().value();
    {
        std::fstream f(
            dir.path() / "data" / object.id.hex().substr(0, 2) / (object.id.hex() + ".body"),
            std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(150);
        f.put('\xff');
    }
    // The piece holding byte 150 is read only when asked for: the bytes before it still verify.
    CHECK(read(*store, {{10, 100}}).value() == slice(all, 10, 100));
    CHECK(read(*store, {{140, 160}}).error() == Errc::ChecksumMismatch);
    CHECK(read(*store, {{10, 100}}).error() == Errc::Missing);  // the whole extent is gone
    CHECK(read(*store, {{400, 420}}).value() == slice(all, 400, 420));
    object = store->lookup("xet-xorb:default/abc").value().value();
    CHECK(object.bytes_present == 20);
    // Stored again, it serves again.
    CHECK(store->put_extents(xorb_head(), w, 101).value() == 190);
    CHECK(read(*store, {{140, 160}}).value() == slice(all, 140, 160));
}

TEST_CASE("cache/store_extents: removal and a new complete length drop the extents") {
    TempDir dir;
    auto store = open_store(dir.path());
    const auto all = pattern_bytes(kLength, 9);
    std::vector<ExtentWrite> w = {write_of(all, 0, 64)};
    REQUIRE(store->put_extents(xorb_head(), w, 100));
    auto other = xorb_head();
    other.complete_length = 2000;
    REQUIRE(store->put_extents(other, std::vector<ExtentWrite>{write_of(all, 500, 510)}, 101));
    auto object = store->lookup("xet-xorb:default/abc").value().value();
    CHECK(object.complete_length == 2000);
    CHECK(store->present_extents(object).value() == std::vector<ByteRange>{{500, 510}});
    REQUIRE(store->remove(object));
    CHECK(store->stats().value().bytes_present == 0);
    REQUIRE(store->put_extents(xorb_head(), w, 102));
    object = store->lookup("xet-xorb:default/abc").value().value();
    CHECK(store->present_extents(object).value() == std::vector<ByteRange>{{0, 64}});
}

TEST_CASE("cache/store_extents: eviction removes a sparse object like any other") {
    TempDir dir;
    auto store = open_store(dir.path());
    const auto all = pattern_bytes(kLength, 1);
    REQUIRE(store->put_extents(xorb_head(), std::vector<ExtentWrite>{write_of(all, 0, 900)}, 100));
    auto report = store->evict_to_budget(100, {}).value();
    CHECK(report.objects_removed == 1);
    CHECK(report.bytes_present == 0);
    CHECK_FALSE(store->lookup("xet-xorb:default/abc").value());
}
