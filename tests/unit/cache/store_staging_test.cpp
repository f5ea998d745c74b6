// Staged writes (write now, record later), O_DIRECT runs and AlignedBytes.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <algorithm>
#include <cstring>

#include "cache/aligned_bytes.h"
#include "cache/body_files.h"
#include "cache/store.h"
#include "tests/unit/cache/test_support.h"

using namespace cache;
using namespace cache::test;

namespace {

AlignedBytes aligned_copy(std::span<const std::byte> bytes) {
    AlignedBytes out;
    out.append(bytes.data(), bytes.size());
    return out;
}

}  // namespace

TEST_CASE("cache/aligned_bytes: page-aligned, appends, moves, grows without losing bytes") {
    auto body = pattern_bytes(300 * 1024, 3);
    AlignedBytes a;
    CHECK(a.empty());
    a.reserve(64 * 1024);  // mapped size class
    CHECK(reinterpret_cast<uintptr_t>(a.data()) % kDirectIoAlignment == 0);
    a.append(body.data(), 1000);
    a.append(body.data() + 1000, body.size() - 1000);  // grows past the reservation
    REQUIRE(a.size() == body.size());
    CHECK(reinterpret_cast<uintptr_t>(a.data()) % kDirectIoAlignment == 0);
    CHECK(std::memcmp(a.data(), body.data(), body.size()) == 0);
    CHECK(a.back() == body.back());

    AlignedBytes b = std::move(a);
    CHECK(a.size() == 0);  // NOLINT: moved-from is empty by contract
    CHECK(b.size() == body.size());
    b.clear();
    CHECK(b.empty());
    CHECK(b.capacity() >= body.size());

    AlignedBytes small;
    small.resize(10);  // below the mapped size class: still aligned
    CHECK(reinterpret_cast<uintptr_t>(small.data()) % kDirectIoAlignment == 0);
    // Freed buffers come back from the pool for the next chunk of the same size.
    for (int i = 0; i < 40; ++i) {
        AlignedBytes chunk;
        chunk.resize(1 << 20);
        std::memset(chunk.data(), i, chunk.size());
        CHECK(static_cast<int>(chunk.data()[12345]) == i);
    }
}

TEST_CASE("cache/store: staged chunks read as absent until committed, then as recorded") {
    TempDir dir;
    auto store = open_store(dir.path());
    auto body = pattern_bytes(40, 4);
    auto object = store->begin_object(head_for("http://a/x", 40), 2000).value();
    std::vector<ChunkWrite> writes = {{0, std::span(body).first(16)},
                                      {2, std::span(body).subspan(32)}};
    auto staged = store->stage_chunks(object, writes);
    REQUIRE(staged.has_value());
    REQUIRE(staged->size() == 2);
    CHECK((*staged)[1].index == 2u);
    CHECK((*staged)[1].length == 8u);

    std::vector<std::byte> buffer(16);
    CHECK(store->read_chunk(object, 0, buffer).error() == Errc::Missing);
    CHECK(store->present_chunks(object).value().present_runs().empty());
    auto n = store->read_staged_chunk(object, (*staged)[0], buffer);
    REQUIRE(n.has_value());
    CHECK(std::equal(buffer.begin(), buffer.begin() + 16, body.begin()));

    REQUIRE(store->commit_chunks(object, *staged));
    CHECK(store->read_chunk(object, 2, buffer).value() == 8u);
    CHECK(std::equal(buffer.begin(), buffer.begin() + 8, body.begin() + 32));
    CHECK(store->lookup("http://a/x").value()->bytes_present == 24u);
}

TEST_CASE("cache/store: a staged chunk whose bytes changed fails its check") {
    TempDir dir;
    auto store = open_store(dir.path());
    auto body = pattern_bytes(32, 5);
    auto object = store->begin_object(head_for("http://a/x", 32), 2000).value();
    std::vector<ChunkWrite> writes = {{1, std::span(body).subspan(16)}};
    auto staged = store->stage_chunks(object, writes).value();
    staged[0].hash ^= 1;  // as if the bytes on disk had changed since they were written
    std::vector<std::byte> buffer(16);
    CHECK(store->read_staged_chunk(object, staged[0], buffer).error() == Errc::ChecksumMismatch);
    // A commit against a replaced object is refused: its records would vouch for old bytes.
    staged[0].hash ^= 1;
    auto replaced = store->begin_object(head_for("http://a/x", 32), 2001).value();
    CHECK(replaced.generation != object.generation);
    CHECK(store->commit_chunks(object, staged).error() == Errc::Stale);
}

TEST_CASE("cache/store: whole chunks go out as O_DIRECT runs, the short last one buffered") {
    // 64 KiB chunks: aligned, so a contiguous batch is one pwritev with O_DIRECT (on file
    // systems that allow it; the bytes must read back the same either way).
    TempDir dir;
    auto store = open_store(dir.path(), small_chunks(64 * 1024));
    const size_t size = 5 * 64 * 1024 + 1000;
    auto body = pattern_bytes(size, 6);
    auto object = store->begin_object(head_for("http://a/big", size), 2000).value();
    REQUIRE(object.chunk_count() == 6u);

    std::vector<AlignedBytes> buffers;
    for (uint32_t i = 0; i < object.chunk_count(); ++i)
        buffers.push_back(
            aligned_copy(std::span(body).subspan(object.chunk_begin(i), object.chunk_length(i))));
    // Chunks 0-2 and 4-5 are runs; chunk 3 comes from an unaligned buffer later.
    std::vector<ChunkWrite> first = {
        {0, buffers[0]}, {1, buffers[1]}, {2, buffers[2]}, {4, buffers[4]}, {5, buffers[5]}};
    REQUIRE(store->write_chunks(object, first));
    std::vector<std::byte> unaligned(body.begin() + 3 * 64 * 1024, body.begin() + 4 * 64 * 1024);
    REQUIRE(store->write_chunk(object, 3, std::span(unaligned)));

    std::vector<std::byte> buffer(64 * 1024);
    for (uint32_t i = 0; i < object.chunk_count(); ++i) {
        auto n = store->read_chunk(object, i, buffer);
        REQUIRE_MESSAGE(n.has_value(), "chunk " << i << ": " << to_string(n.error()));
        CHECK(*n == object.chunk_length(i));
        CHECK(
            std::equal(buffer.begin(), buffer.begin() + *n, body.begin() + object.chunk_begin(i)));
    }
    CHECK(std::filesystem::file_size(store->dir() / "data" / object.id.hex().substr(0, 2) /
                                     (object.id.hex() + ".body")) == size);
    REQUIRE(store->mark_complete(object));
}

TEST_CASE("cache/aligned_bytes: fill_to takes bytes up to the target and no further") {
    std::byte data[8];
    for (int i = 0; i < 8; ++i)
        data[i] = std::byte(i);
    cache::AlignedBytes b;
    CHECK(b.fill_to(5, data, 3) == 3);
    CHECK(b.size() == 3);
    CHECK(b.capacity() >= 5);
    CHECK(b.fill_to(5, data + 3, 5) == 2);  // only two more fit
    CHECK(b.size() == 5);
    CHECK(b.data()[4] == std::byte(4));
    CHECK(b.fill_to(5, data, 8) == 0);  // full
}

TEST_CASE("cache/body_files: discard gives a range's blocks back, keeps the length and the rest") {
    TempDir dir;
    BodyFiles files(dir.path() / "data", /*sync=*/false);
    const ObjectId id = ObjectId::for_key("http://a/holes");
    constexpr size_t kPart = 256 * 1024;
    auto body = pattern_bytes(3 * kPart, 7);
    Extent extent{0, body};
    std::filesystem::create_directories(dir.path() / "data");
    REQUIRE(files.reset(id));
    REQUIRE(files.write(id, std::span(&extent, 1), /*sync=*/false));
    auto allocated = [&] {
        struct stat st {};
        REQUIRE(::stat(files.path_for(id).c_str(), &st) == 0);
        return std::pair<uint64_t, uint64_t>(static_cast<uint64_t>(st.st_blocks) * 512,
                                             static_cast<uint64_t>(st.st_size));
    };
    const auto before = allocated();

    REQUIRE(files.discard(id, kPart, 2 * kPart));
    const auto after = allocated();
    CHECK(after.second == before.second);        // the length stays
    CHECK(after.first + kPart <= before.first);  // the middle's blocks are free
    std::vector<std::byte> read(3 * kPart);
    REQUIRE(files.read(id, 0, read));
    CHECK(std::memcmp(read.data(), body.data(), kPart) == 0);
    CHECK(std::all_of(read.begin() + kPart, read.begin() + 2 * kPart,
                      [](std::byte b) { return b == std::byte{0}; }));  // a hole reads as zeros
    CHECK(std::memcmp(read.data() + 2 * kPart, body.data() + 2 * kPart, kPart) == 0);
    CHECK(files.discard(id, 5, 5));  // an empty range is nothing to do
    CHECK(files.discard(ObjectId::for_key("http://a/none"), 0, 1).error() == Errc::Missing);
}
