#include "cache/chunk_map.h"

#include <doctest/doctest.h>

using namespace cache;

TEST_CASE("cache/chunk_map: runs, counts and the first gap") {
    ChunkMap map(6);
    CHECK(map.present_count() == 0u);
    CHECK(map.first_missing().value() == 0u);
    for (uint32_t i : {0u, 1u, 3u, 5u})
        map.set(i);
    map.set(6);  // out of range: ignored
    CHECK(map.size() == 6u);
    CHECK(map.present_count() == 4u);
    CHECK(map.contains(3));
    CHECK_FALSE(map.contains(4));
    CHECK_FALSE(map.contains(6));
    CHECK(map.first_missing().value() == 2u);
    CHECK(map.first_missing(3).value() == 4u);
    CHECK(map.present_runs() == std::vector<ChunkRun>{{0, 2}, {3, 4}, {5, 6}});
    map.set(2);
    map.set(4);
    CHECK(map.all_present());
    CHECK_FALSE(map.first_missing().has_value());
    CHECK(map.present_runs() == std::vector<ChunkRun>{{0, 6}});
    CHECK(ChunkMap().all_present());
}
