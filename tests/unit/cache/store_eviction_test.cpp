#include <doctest/doctest.h>

#include <fstream>

#include "cache/eviction_choice.h"
#include "cache/store.h"
#include "tests/unit/cache/test_support.h"

using namespace cache;
using namespace cache::test;

TEST_CASE("cache/eviction_choice: oldest first, in-use skipped, stop at the budget") {
    ObjectId a = ObjectId::for_key("a"), b = ObjectId::for_key("b"), c = ObjectId::for_key("c"),
             d = ObjectId::for_key("d");
    std::vector<EvictionCandidate> all = {{a, 40, 10}, {b, 10, 10}, {c, 20, 10}, {d, 30, 10}};
    struct Case {
        const char* name;
        uint64_t budget;
        std::vector<ObjectId> in_use;
        std::vector<ObjectId> expected;
    };
    const Case cases[] = {
        {"under budget", 40, {}, {}},
        {"one to go", 30, {}, {b}},
        {"two to go", 20, {}, {b, c}},
        {"in use is skipped", 20, {b}, {c, d}},
        {"budget unreachable", 0, {a, b}, {c, d}},
        {"everything", 0, {}, {b, c, d, a}},
    };
    for (const Case& k : cases) {
        CAPTURE(k.name);
        auto victims = choose_victims(all, 40, k.budget, k.in_use);
        std::vector<ObjectId> ids;
        for (const auto& v : victims)
            ids.push_back(v.id);
        CHECK(ids == k.expected);
    }
}

TEST_CASE("cache/eviction_choice: within one second the older generation goes first") {
    ObjectId a, b;
    a.bytes[0] = std::byte{2};  // a sorts after b by id, but was written first
    b.bytes[0] = std::byte{1};
    std::vector<EvictionCandidate> all = {{b, 10, 10, 8}, {a, 10, 10, 7}};
    auto victims = choose_victims(all, 20, 10, {});
    REQUIRE(victims.size() == 1);
    CHECK(victims[0].id == a);
}

TEST_CASE("cache/store: evict_to_budget removes least recently used objects, not in-use ones") {
    TempDir dir;
    auto store = open_store(dir.path());
    std::vector<ObjectInfo> objects;
    for (int i = 0; i < 4; ++i) {
        std::string key = "http://a/" + std::to_string(i);
        auto object = store->begin_object(head_for(key, 32), 1000 + i).value();
        write_all_chunks(*store, object, pattern_bytes(32, static_cast<unsigned>(i)));
        objects.push_back(object);
    }
    // Access order, oldest first: 1, 2, 0, 3. Object 1 is being served.
    REQUIRE(store->touch(objects[0], 2002));
    REQUIRE(store->touch(objects[2], 2001));
    REQUIRE(store->touch(objects[1], 2000));
    REQUIRE(store->touch(objects[3], 2003));
    CHECK(store->stats().value().bytes_present == 128u);

    std::vector<ObjectId> in_use = {objects[1].id};
    auto report = store->evict_to_budget(64, in_use);
    REQUIRE(report.has_value());
    CHECK(report->objects_removed == 2u);
    CHECK(report->bytes_freed == 64u);
    CHECK(report->bytes_present == 64u);
    CHECK(store->lookup("http://a/1").value().has_value());
    CHECK_FALSE(store->lookup("http://a/2").value().has_value());
    CHECK_FALSE(store->lookup("http://a/0").value().has_value());
    CHECK(store->lookup("http://a/3").value().has_value());
    CHECK_FALSE(std::filesystem::exists(dir.path() / "data" / objects[2].id.hex().substr(0, 2) /
                                        (objects[2].id.hex() + ".body")));
    CHECK(store->stats().value().objects == 2u);

    // Under budget: nothing happens.
    auto idle = store->evict_to_budget(64, {});
    REQUIRE(idle.has_value());
    CHECK(idle->objects_removed == 0u);
}

TEST_CASE("cache/store: evict_to_budget spares incomplete objects whose fill began since") {
    TempDir dir;
    auto store = open_store(dir.path(), small_chunks(16));
    auto old_done = store->begin_object(head_for("http://a/old", 32), 1000).value();
    write_all_chunks(*store, old_done, pattern_bytes(32, 1));
    REQUIRE(store->mark_complete(old_done));
    auto new_done = store->begin_object(head_for("http://a/new-done", 32), 2000).value();
    write_all_chunks(*store, new_done, pattern_bytes(32, 2));
    REQUIRE(store->mark_complete(new_done));
    // Being filled: created at 2000, no chunk yet (not in the caller's in_use list).
    auto filling = store->begin_object(head_for("http://a/filling", 32), 2000).value();
    const auto filling_bytes = pattern_bytes(32, 3);
    REQUIRE(store->write_chunk(filling, 0, std::span(filling_bytes).first(16)));
    REQUIRE(store->touch(filling, 1500));  // the oldest access: first in line without the rule
    auto report = store->evict_to_budget(0, {}, 2000);
    REQUIRE(report.has_value());
    CHECK(report->objects_removed == 2u);
    CHECK(store->lookup("http://a/filling").value().has_value());
    CHECK_FALSE(store->lookup("http://a/new-done").value().has_value());
    CHECK_FALSE(store->lookup("http://a/old").value().has_value());
    // Once older than `fill_since`, an incomplete object is evictable like any other.
    auto later = store->evict_to_budget(0, {}, 2001);
    REQUIRE(later.has_value());
    CHECK_FALSE(store->lookup("http://a/filling").value().has_value());
}

TEST_CASE("cache/store: remove_orphan_files deletes only files no record names") {
    TempDir dir;
    auto store = open_store(dir.path());
    auto kept = store->begin_object(head_for("http://a/kept", 16), 1000).value();
    write_all_chunks(*store, kept, pattern_bytes(16, 1));
    ObjectId stray = ObjectId::for_key("http://a/stray");
    auto stray_dir = dir.path() / "data" / stray.hex().substr(0, 2);
    std::filesystem::create_directories(stray_dir);
    { std::ofstream(stray_dir / (stray.hex() + ".body")) << "left by a crash"; }
    { std::ofstream(stray_dir / "not-a-body-file.txt") << "ignored"; }

    CHECK(store->remove_orphan_files().value() == 1u);
    CHECK_FALSE(std::filesystem::exists(stray_dir / (stray.hex() + ".body")));
    CHECK(std::filesystem::exists(stray_dir / "not-a-body-file.txt"));
    std::vector<std::byte> buffer(16);
    CHECK(store->read_chunk(kept, 0, buffer).value() == 16u);
}
