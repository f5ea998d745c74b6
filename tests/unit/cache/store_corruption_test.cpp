// What the disk may do to us: damaged body files, a damaged or foreign index, a newer schema, a
// full disk, a full LMDB map.
#include <doctest/doctest.h>
#include <lmdb.h>

#include <cerrno>
#include <fstream>

#include "cache/index.h"
#include "cache/store.h"
#include "tests/unit/cache/test_support.h"

using namespace cache;
using namespace cache::test;

namespace {

std::filesystem::path body_path(const std::filesystem::path& dir, const ObjectInfo& object) {
    return dir / "data" / object.id.hex().substr(0, 2) / (object.id.hex() + ".body");
}

struct Filled {
    std::unique_ptr<Store> store;
    ObjectInfo object;
};

Filled filled_store(const std::filesystem::path& dir) {
    auto store = open_store(dir);
    auto object = store->begin_object(head_for("http://a/x", 40), 2000).value();
    write_all_chunks(*store, object, pattern_bytes(40, 7));
    object = store->mark_complete(object).value();
    return {std::move(store), object};
}

}  // namespace

TEST_CASE("cache/store: a flipped byte reads as ChecksumMismatch and drops the chunk") {
    TempDir dir;
    auto [store, object] = filled_store(dir.path());
    {
        std::fstream f(body_path(dir.path(), object), std::ios::in | std::ios::out);
        f.seekg(17);
        char c = 0;
        f.get(c);
        f.seekp(17);
        f.put(static_cast<char>(c ^ 0x01));
    }
    std::vector<std::byte> buffer(16);
    CHECK(store->read_chunk(object, 1, buffer).error() == Errc::ChecksumMismatch);
    // The record is gone: the next read says Missing, the object is partial again.
    CHECK(store->read_chunk(object, 1, buffer).error() == Errc::Missing);
    auto map = store->present_chunks(object).value();
    CHECK(map.present_runs() == std::vector<ChunkRun>{{0, 1}, {2, 3}});
    auto now = store->lookup("http://a/x").value().value();
    CHECK(now.state == ObjectState::Partial);
    CHECK(now.bytes_present == 24u);
    CHECK(store->stats().value().complete_objects == 0u);
    CHECK(store->stats().value().bytes_present == 24u);
    // Neighbouring chunks are unaffected, and rewriting the chunk repairs the object.
    CHECK(store->read_chunk(object, 0, buffer).value() == 16u);
    auto body = pattern_bytes(40, 7);
    REQUIRE(store->write_chunk(object, 1, std::span(body).subspan(16, 16)));
    CHECK(store->mark_complete(object).value().complete());
}

TEST_CASE("cache/store: a truncated body file reads as Missing") {
    TempDir dir;
    auto [store, object] = filled_store(dir.path());
    std::filesystem::resize_file(body_path(dir.path(), object), 20);
    std::vector<std::byte> buffer(16);
    CHECK(store->read_chunk(object, 0, buffer).value() == 16u);
    CHECK(store->read_chunk(object, 1, buffer).error() == Errc::Missing);
    CHECK(store->read_chunk(object, 2, buffer).error() == Errc::Missing);
    CHECK(store->present_chunks(object).value().present_runs() == std::vector<ChunkRun>{{0, 1}});
}

TEST_CASE("cache/store: a deleted body file reads as Missing") {
    TempDir dir;
    auto [store, object] = filled_store(dir.path());
    std::filesystem::remove(body_path(dir.path(), object));
    std::vector<std::byte> buffer(16);
    for (uint32_t i = 0; i < 3; ++i)
        CHECK(store->read_chunk(object, i, buffer).error() == Errc::Missing);
    CHECK(store->present_chunks(object).value().present_count() == 0u);
    CHECK(store->stats().value().bytes_present == 0u);
}

TEST_CASE("cache/store: an index with a newer schema version is refused") {
    TempDir dir;
    filled_store(dir.path());
    {
        EnvOptions env;
        env.map_size = uint64_t{64} << 20;
        env.max_dbs = 4;
        env.max_readers = 8;
        auto index = Index::open(dir.path() / "index", env);
        REQUIRE(index.has_value());
        auto txn = index->begin_write().value();
        REQUIRE(index->put_schema_version(txn, kSchemaVersion + 1));
        REQUIRE(txn.commit());
    }
    auto store = Store::open(dir.path(), small_chunks());
    REQUIRE_FALSE(store.has_value());
    CHECK(store.error() == Errc::NewerSchema);
    CHECK(store.error().native == static_cast<int>(kSchemaVersion + 1));
    CHECK(to_string(store.error()).find("schema version 2") != std::string::npos);
}

TEST_CASE("cache/store: garbage in the index directory fails the open cleanly") {
    TempDir dir;
    std::filesystem::create_directories(dir.path() / "index");
    {
        std::ofstream garbage(dir.path() / "index" / "data.mdb", std::ios::binary);
        auto bytes = pattern_bytes(64 * 1024, 9);
        garbage.write(reinterpret_cast<const char*>(bytes.data()),
                      static_cast<std::streamsize>(bytes.size()));
    }
    auto store = Store::open(dir.path(), small_chunks());
    REQUIRE_FALSE(store.has_value());
    CHECK(store.error() == Errc::BadIndex);
}

TEST_CASE("cache/store: a foreign LMDB environment is not taken for a cache") {
    TempDir dir;
    std::filesystem::create_directories(dir.path() / "index");
    {
        MDB_env* env = nullptr;
        REQUIRE(mdb_env_create(&env) == 0);
        REQUIRE(mdb_env_open(env, (dir.path() / "index").c_str(), 0, 0644) == 0);
        MDB_txn* txn = nullptr;
        REQUIRE(mdb_txn_begin(env, nullptr, 0, &txn) == 0);
        MDB_dbi dbi = 0;
        REQUIRE(mdb_dbi_open(txn, nullptr, 0, &dbi) == 0);
        char k[] = "someone-else", v[] = "data";
        MDB_val key{sizeof k, k}, value{sizeof v, v};
        REQUIRE(mdb_put(txn, dbi, &key, &value, 0) == 0);
        REQUIRE(mdb_txn_commit(txn) == 0);
        mdb_env_close(env);
    }
    auto store = Store::open(dir.path(), small_chunks());
    REQUIRE_FALSE(store.has_value());
    CHECK(store.error() == Errc::BadIndex);
}

TEST_CASE("cache/store: a full disk is NoSpace and records nothing") {
    TempDir dir;
    auto store = open_store(dir.path());
    auto object = store->begin_object(head_for("http://a/x", 40), 2000).value();
    // Writes through a symlink to /dev/full fail with ENOSPC, as on a full file system.
    auto path = body_path(dir.path(), object);
    std::filesystem::remove(path);
    std::filesystem::create_symlink("/dev/full", path);
    auto body = pattern_bytes(40, 8);
    auto written = store->write_chunk(object, 0, std::span(body).first(16));
    REQUIRE_FALSE(written.has_value());
    CHECK(written.error() == Errc::NoSpace);
    CHECK(written.error().native == ENOSPC);
    CHECK(store->present_chunks(object).value().present_count() == 0u);
    CHECK(store->stats().value().bytes_present == 0u);
}

TEST_CASE("cache/store: a full LMDB map is IndexFull and the store stays usable") {
    TempDir dir;
    Options options = small_chunks();
    options.map_size = 256 * 1024;
    auto store = open_store(dir.path(), options);
    ObjectHead head = head_for("http://a/big", 16);
    head.headers.push_back({"X-Padding", std::string(2000, 'p')});
    Result<ObjectInfo> last = fail(Errc::Index);
    int created = 0;
    for (; created < 1000; ++created) {
        head.key = "http://a/" + std::to_string(created);
        last = store->begin_object(head, 2000);
        if (!last) break;
    }
    REQUIRE_FALSE(last.has_value());
    CHECK(last.error() == Errc::IndexFull);
    CHECK(store->stats().value().objects == static_cast<uint64_t>(created));
    // Freeing space makes room again.
    auto first = store->lookup("http://a/0").value().value();
    REQUIRE(store->remove(first));
    head.key = "http://a/again";
    head.headers.pop_back();
    CHECK(store->begin_object(head, 2001).has_value());
}
