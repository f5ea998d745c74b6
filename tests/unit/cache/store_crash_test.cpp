// kill -9 at arbitrary moments: the reopened index must be consistent and every recorded chunk
// must read back verified.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>

#include "cache/store.h"
#include "tests/unit/cache/test_support.h"

using namespace cache;
using namespace cache::test;

namespace {

constexpr uint32_t kChunk = 4096;

// The bytes chunk `index` of `key` always has, whichever generation writes it.
std::vector<std::byte> chunk_bytes(const std::string& key, uint32_t index, size_t length) {
    return pattern_bytes(length, static_cast<unsigned>(std::hash<std::string>{}(key)) + index);
}

// The child: creates, fills, replaces, touches and evicts objects until it is killed.
[[noreturn]] void churn(const std::filesystem::path& dir, Durability durability, unsigned seed) {
    Options options = small_chunks(kChunk);
    options.durability = durability;
    auto opened = Store::open(dir, options);
    if (!opened) _exit(2);
    Store& store = **opened;
    std::mt19937 rng(seed);
    for (int64_t now = 1;; ++now) {
        std::string key = "http://origin/" + std::to_string(rng() % 8);
        uint64_t length = rng() % (6 * kChunk) + 1;
        auto object = store.begin_object(head_for(key, length), now);
        if (!object) continue;
        std::vector<ChunkWrite> batch;
        std::vector<std::vector<std::byte>> owned;
        for (uint32_t i = 0; i < object->chunk_count(); ++i) {
            owned.push_back(chunk_bytes(key, i, object->chunk_length(i)));
        }
        for (uint32_t i = 0; i < object->chunk_count(); ++i) {
            if (rng() % 2 == 0) {
                (void)store.write_chunk(*object, i, owned[i]);
            } else {
                batch.push_back({i, owned[i]});
            }
        }
        (void)store.write_chunks(*object, batch);
        (void)store.mark_complete(*object);
        (void)store.touch(*object, now);
        if (rng() % 4 == 0) (void)store.evict_to_budget(8 * kChunk, {});
    }
}

void check_consistent(const std::filesystem::path& dir) {
    auto store = open_store(dir, small_chunks(kChunk));
    auto objects = store->list().value();
    Stats sums;
    std::vector<std::byte> buffer(kChunk);
    for (const ObjectInfo& object : objects) {
        CAPTURE(object.key);
        sums.objects += 1;
        sums.complete_objects += object.complete() ? 1 : 0;
        sums.bytes_present += object.bytes_present;
        auto map = store->present_chunks(object).value();
        uint64_t recorded = 0;
        for (uint32_t i = 0; i < map.size(); ++i) {
            if (!map.contains(i)) continue;
            auto n = store->read_chunk(object, i, buffer);
            REQUIRE_MESSAGE(n.has_value(), to_string(n.error()));
            auto expected = chunk_bytes(object.key, i, object.chunk_length(i));
            CHECK(std::equal(expected.begin(), expected.end(), buffer.begin()));
            recorded += *n;
        }
        CHECK(recorded == object.bytes_present);
        if (object.complete()) CHECK(map.all_present());
    }
    auto stats = store->stats().value();
    CHECK(stats.objects == sums.objects);
    CHECK(stats.complete_objects == sums.complete_objects);
    CHECK(stats.bytes_present == sums.bytes_present);
    CHECK(store->remove_orphan_files().has_value());
}

}  // namespace

TEST_CASE("cache/store: kill -9 at any moment leaves a consistent index") {
    TempDir dir;
    std::mt19937 rng(12345);
    for (unsigned round = 0; round < 8; ++round) {
        CAPTURE(round);
        Durability durability = round % 2 == 0 ? Durability::Sync : Durability::NoSync;
        pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) churn(dir.path(), durability, round);
        usleep(static_cast<useconds_t>(20000 + rng() % 80000));
        REQUIRE(kill(pid, SIGKILL) == 0);
        int status = 0;
        REQUIRE(waitpid(pid, &status, 0) == pid);
        REQUIRE_MESSAGE(WIFSIGNALED(status), "the writer exited early with ", WEXITSTATUS(status));
        check_consistent(dir.path());
    }
}
