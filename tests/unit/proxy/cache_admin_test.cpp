#include "proxy/admin/cache_admin.h"

#include <doctest/doctest.h>

#include <fstream>

#include "tests/unit/cache/test_support.h"

using namespace cache::test;
using proxy::AdminErrc;
using proxy::PurgeFilter;
using proxy::StoreCacheAdmin;

namespace {

// A complete object at `key` of `n` bytes whose last access is `now`.
cache::ObjectInfo put(cache::Store& store, const std::string& key, uint64_t n, int64_t now,
                      bool complete = true) {
    auto object = store.begin_object(head_for(key, n), now).value();
    auto body = pattern_bytes(n, static_cast<unsigned>(key.size()));
    if (complete) {
        write_all_chunks(store, object, body);
        object = store.mark_complete(object).value();
    } else {
        REQUIRE(store.write_chunk(object, 0, std::span(body).first(object.chunk_length(0))));
    }
    return object;
}

size_t count(const cache::Store& store) {
    return store.list().value().size();
}

}  // namespace

TEST_CASE("proxy/cache_admin: URLs are found under their normalised cache key, ids by scan") {
    TempDir dir;
    auto store = open_store(dir.path());
    auto o = put(*store, "http://example.com/a?x=1", 40, 1000);
    CHECK(proxy::cache_key_of("HTTP://EXAMPLE.com:80/a?x=1") == "http://example.com/a?x=1");
    CHECK_FALSE(proxy::cache_key_of("/a").has_value());

    auto by_url = proxy::find_object(*store, "http://EXAMPLE.COM:80/a?x=1").value();
    REQUIRE(by_url.has_value());
    CHECK(by_url->id == o.id);
    auto by_id = proxy::find_object(*store, o.id.hex()).value();
    REQUIRE(by_id.has_value());
    CHECK(by_id->key == o.key);
    std::string upper = o.id.hex();
    for (char& c : upper)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    CHECK(proxy::find_object(*store, upper).value().has_value());
    CHECK_FALSE(proxy::find_object(*store, "http://example.com/b").value().has_value());
    CHECK_FALSE(proxy::find_object(*store, std::string(32, '0')).value().has_value());

    CHECK(proxy::looks_like_object_id(o.id.hex()));
    CHECK_FALSE(proxy::looks_like_object_id("0123"));
    CHECK_FALSE(proxy::looks_like_object_id(std::string(31, 'a') + "g"));
}

TEST_CASE("proxy/cache_admin: evict removes one object, NotFound for an unknown one") {
    TempDir dir;
    auto store = open_store(dir.path());
    put(*store, "http://a/x", 40, 1000);
    put(*store, "http://a/y", 20, 1000);
    StoreCacheAdmin admin(*store);
    auto removed = admin.evict("http://a/x");
    REQUIRE(removed.has_value());
    CHECK(removed->objects == 1);
    CHECK(removed->bytes == 40);
    CHECK(count(*store) == 1);
    CHECK(admin.evict("http://a/x").error().code == AdminErrc::NotFound);
    CHECK(admin.evict("").error().code == AdminErrc::Invalid);
    CHECK(admin.stats()->objects == 1);
}

TEST_CASE("proxy/cache_admin: purge by all, age, partial state, and age and state together") {
    TempDir dir;
    auto store = open_store(dir.path());
    StoreCacheAdmin admin(*store);
    put(*store, "http://a/old-complete", 40, 1000);
    put(*store, "http://a/old-partial", 40, 1000, false);
    put(*store, "http://a/new-complete", 40, 5000);
    put(*store, "http://a/new-partial", 40, 5000, false);

    CHECK(admin.purge(PurgeFilter{}, 6000).error().code == AdminErrc::Invalid);
    PurgeFilter negative;
    negative.older_than_seconds = -1;
    CHECK(admin.purge(negative, 6000).error().code == AdminErrc::Invalid);

    PurgeFilter old_partial;
    old_partial.older_than_seconds = 2000;  // last access before 4000
    old_partial.partial = true;
    auto r = admin.purge(old_partial, 6000).value();
    CHECK(r.objects == 1);
    CHECK(r.bytes == 16);  // one 16-byte chunk was present
    CHECK_FALSE(store->lookup("http://a/old-partial").value().has_value());

    PurgeFilter partial;
    partial.partial = true;
    CHECK(admin.purge(partial, 6000).value().objects == 1);
    CHECK_FALSE(store->lookup("http://a/new-partial").value().has_value());

    PurgeFilter old;
    old.older_than_seconds = 2000;
    CHECK(admin.purge(old, 6000).value().objects == 1);
    CHECK(store->lookup("http://a/new-complete").value().has_value());

    PurgeFilter all;
    all.all = true;
    CHECK(admin.purge(all, 6000).value().objects == 1);
    CHECK(count(*store) == 0);
}

TEST_CASE("proxy/cache_admin: gc evicts down to the budget and removes orphaned files") {
    TempDir dir;
    auto options = small_chunks();
    options.max_bytes = 50;
    auto store = open_store(dir.path(), options);
    put(*store, "http://a/1", 40, 1000);
    put(*store, "http://a/2", 40, 2000);
    auto orphan = dir.path() / "data" / "ab" / ("ab" + std::string(30, '0') + ".body");
    std::filesystem::create_directories(orphan.parent_path());
    { std::ofstream(orphan) << "left behind"; }

    StoreCacheAdmin admin(*store);
    auto report = admin.gc().value();
    CHECK(report.objects_removed == 1);  // the least recently used one
    CHECK(report.bytes_freed == 40);
    CHECK(report.orphan_files_removed == 1);
    CHECK(report.bytes_present == 40);
    CHECK(store->lookup("http://a/2").value().has_value());
    CHECK_FALSE(std::filesystem::exists(orphan));
}

TEST_CASE("proxy/cache_admin: gc without a budget evicts nothing") {
    TempDir dir;
    auto store = open_store(dir.path());  // max_bytes 0
    put(*store, "http://a/1", 40, 1000);
    auto report = StoreCacheAdmin(*store).gc().value();
    CHECK(report.objects_removed == 0);
    CHECK(count(*store) == 1);
}
