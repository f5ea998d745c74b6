// BodyFiles reads: from the page cache when it holds the bytes, otherwise O_DIRECT into the
// caller's aligned buffer, the unaligned tail buffered; the bytes are the same either way.
#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "cache/aligned_bytes.h"
#include "cache/body_files.h"
#include "test_support.h"

namespace cache {
namespace {

constexpr size_t kChunk = 1 << 20;

ObjectId some_id() {
    ObjectId id{};
    id.bytes[0] = std::byte{0x5a};
    id.bytes[15] = std::byte{0x01};
    return id;
}

AlignedBytes aligned_copy(const std::vector<std::byte>& bytes) {
    AlignedBytes out;
    out.resize(bytes.size());
    std::memcpy(out.data(), bytes.data(), bytes.size());
    return out;
}

bool same(const AlignedBytes& a, const std::vector<std::byte>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), b.size()) == 0;
}

// Evicts the file's pages from the page cache (written back first), so the next read cannot be
// served from memory.
void drop_from_page_cache(const std::filesystem::path& path) {
    int fd = ::open(path.c_str(), O_RDONLY);
    REQUIRE(fd >= 0);
    (void)::fdatasync(fd);
    (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
}

}  // namespace

TEST_CASE("BodyFiles::read returns the written bytes, cached or not, aligned or not") {
    test::TempDir dir;
    std::filesystem::create_directories(dir.path() / "data");
    BodyFiles files(dir.path() / "data", /*sync=*/false);
    const ObjectId id = some_id();
    auto first = test::pattern_bytes(kChunk, 1);
    auto tail = test::pattern_bytes(kChunk / 2 + 123, 2);  // a last chunk: not block-aligned
    AlignedBytes a = aligned_copy(first), b = aligned_copy(tail);
    std::vector<Extent> extents{{0, std::span<const std::byte>(a)},
                                {kChunk, std::span<const std::byte>(b)}};
    REQUIRE(files.write(id, extents));

    for (bool cached : {false, true}) {
        CAPTURE(cached);
        if (!cached) drop_from_page_cache(files.path_for(id));
        AlignedBytes got;
        got.resize(first.size());
        REQUIRE(files.read(id, 0, got));
        CHECK(same(got, first));
        got.resize(tail.size());
        REQUIRE(files.read(id, kChunk, got));
        CHECK(same(got, tail));
    }

    SUBCASE("a buffer that is not aligned is read buffered") {
        drop_from_page_cache(files.path_for(id));
        std::vector<std::byte> odd(first.size() + 1);
        REQUIRE(files.read(id, 0, std::span<std::byte>(odd).subspan(1)));
        CHECK(std::memcmp(odd.data() + 1, first.data(), first.size()) == 0);
    }
    SUBCASE("reading past the end of the file is Missing") {
        drop_from_page_cache(files.path_for(id));
        AlignedBytes got;
        got.resize(kChunk);
        auto read = files.read(id, kChunk, got);
        REQUIRE_FALSE(read);
        CHECK(read.error() == Errc::Missing);
    }
}

}  // namespace cache
