#include "cache/store.h"

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/cache/test_support.h"

using namespace cache;
using namespace cache::test;

TEST_CASE("cache/store: a new object is recorded and found by key") {
    TempDir dir;
    auto store = open_store(dir.path());
    CHECK_FALSE(store->lookup("http://a/x").value().has_value());

    auto object = store->begin_object(head_for("http://a/x", 40), 2000);
    REQUIRE(object.has_value());
    CHECK(object->chunk_size == 16u);
    CHECK(object->chunk_count() == 3u);
    CHECK(object->state == ObjectState::Partial);
    CHECK(object->created == 2000);
    CHECK(object->last_access == 2000);
    CHECK(std::filesystem::exists(dir.path() / "data" / object->id.hex().substr(0, 2) /
                                  (object->id.hex() + ".body")));

    auto found = store->lookup("http://a/x").value();
    REQUIRE(found.has_value());
    CHECK(found->id == object->id);
    CHECK(found->generation == object->generation);
    CHECK(found->headers.size() == 2);
    CHECK(found->validator.etag == "\"v1\"");
    CHECK(found->response_time == 1001);
}

TEST_CASE("cache/store: the chunk map follows the writes, including a short last chunk") {
    TempDir dir;
    auto store = open_store(dir.path());
    auto body = pattern_bytes(40, 1);  // chunks of 16, 16 and 8 bytes
    auto object = store->begin_object(head_for("http://a/x", 40), 2000).value();
    CHECK(object.chunk_length(2) == 8u);

    REQUIRE(store->write_chunk(object, 2, std::span(body).subspan(32, 8)));
    auto map = store->present_chunks(object).value();
    CHECK(map.size() == 3u);
    CHECK(map.present_runs() == std::vector<ChunkRun>{{2, 3}});
    CHECK(map.first_missing().value() == 0u);

    REQUIRE(store->write_chunk(object, 0, std::span(body).first(16)));
    map = store->present_chunks(object).value();
    CHECK(map.present_runs() == std::vector<ChunkRun>{{0, 1}, {2, 3}});
    CHECK(map.first_missing().value() == 1u);
    CHECK(store->lookup("http://a/x").value()->bytes_present == 24u);

    std::vector<std::byte> buffer(16);
    auto n = store->read_chunk(object, 2, buffer);
    REQUIRE(n.has_value());
    CHECK(*n == 8u);
    CHECK(std::equal(buffer.begin(), buffer.begin() + 8, body.begin() + 32));
    CHECK(store->read_chunk(object, 1, buffer).error() == Errc::Missing);
}

TEST_CASE("cache/store: chunks of the wrong length or index are refused") {
    TempDir dir;
    auto store = open_store(dir.path());
    auto body = pattern_bytes(40, 1);
    auto object = store->begin_object(head_for("http://a/x", 40), 2000).value();
    CHECK(store->write_chunk(object, 0, std::span(body).first(15)).error() ==
          Errc::InvalidArgument);
    CHECK(store->write_chunk(object, 2, std::span(body).first(16)).error() ==
          Errc::InvalidArgument);
    CHECK(store->write_chunk(object, 3, std::span(body).first(8)).error() == Errc::InvalidArgument);
    std::vector<std::byte> small(4);
    REQUIRE(store->write_chunk(object, 0, std::span(body).first(16)));
    CHECK(store->read_chunk(object, 0, small).error() == Errc::InvalidArgument);
}

TEST_CASE("cache/store: write_chunks records a batch and mark_complete needs every chunk") {
    TempDir dir;
    auto store = open_store(dir.path());
    auto body = pattern_bytes(40, 2);
    auto object = store->begin_object(head_for("http://a/x", 40), 2000).value();
    std::vector<ChunkWrite> batch = {{0, std::span(body).first(16)},
                                     {1, std::span(body).subspan(16, 16)}};
    REQUIRE(store->write_chunks(object, batch));
    CHECK(store->mark_complete(object).error() == Errc::Incomplete);
    REQUIRE(store->write_chunk(object, 2, std::span(body).subspan(32)));
    auto complete = store->mark_complete(object);
    REQUIRE(complete.has_value());
    CHECK(complete->complete());
    CHECK(complete->bytes_present == 40u);

    auto stats = store->stats().value();
    CHECK(stats.objects == 1u);
    CHECK(stats.complete_objects == 1u);
    CHECK(stats.partial_objects == 0u);
    CHECK(stats.bytes_present == 40u);
}

TEST_CASE("cache/store: an empty body is complete at once") {
    TempDir dir;
    auto store = open_store(dir.path());
    auto object = store->begin_object(head_for("http://a/empty", 0), 2000).value();
    CHECK(object.chunk_count() == 0u);
    CHECK(store->mark_complete(object).value().complete());
}

TEST_CASE("cache/store: replacing an object clears its chunks and stales old handles") {
    TempDir dir;
    auto store = open_store(dir.path());
    auto body = pattern_bytes(40, 3);
    auto first = store->begin_object(head_for("http://a/x", 40), 2000).value();
    write_all_chunks(*store, first, body);
    REQUIRE(store->mark_complete(first));

    auto second = store->begin_object(head_for("http://a/x", 20), 3000).value();
    CHECK(second.generation > first.generation);
    CHECK(second.bytes_present == 0u);
    CHECK(store->present_chunks(second).value().present_count() == 0u);
    CHECK(std::filesystem::file_size(dir.path() / "data" / second.id.hex().substr(0, 2) /
                                     (second.id.hex() + ".body")) == 0u);

    std::vector<std::byte> buffer(16);
    CHECK(store->read_chunk(first, 0, buffer).error() == Errc::Missing);
    CHECK(store->write_chunk(first, 0, std::span(body).first(16)).error() == Errc::Stale);
    CHECK(store->present_chunks(first).error() == Errc::Stale);
    CHECK(store->touch(first, 5000).error() == Errc::Stale);

    auto stats = store->stats().value();
    CHECK(stats.objects == 1u);
    CHECK(stats.complete_objects == 0u);
    CHECK(stats.bytes_present == 0u);
}

TEST_CASE("cache/store: touch, update_headers and remove") {
    TempDir dir;
    auto store = open_store(dir.path());
    auto body = pattern_bytes(20, 4);
    auto object = store->begin_object(head_for("http://a/x", 20), 2000).value();
    write_all_chunks(*store, object, body);

    REQUIRE(store->touch(object, 2500));
    REQUIRE(store->touch(object, 2600));
    auto touched = store->lookup("http://a/x").value().value();
    CHECK(touched.hit_count == 2u);
    CHECK(touched.last_access == 2600);

    auto refreshed = store->update_headers(object, {{"Cache-Control", "max-age=60"}}, 2700, 2701);
    REQUIRE(refreshed.has_value());
    CHECK(refreshed->headers.size() == 1);
    CHECK(refreshed->response_time == 2701);
    CHECK(refreshed->hit_count == 2u);  // a refresh keeps the rest of the record
    CHECK(store->present_chunks(object).value().all_present());

    REQUIRE(store->remove(object));
    CHECK_FALSE(store->lookup("http://a/x").value().has_value());
    CHECK_FALSE(std::filesystem::exists(dir.path() / "data" / object.id.hex().substr(0, 2) /
                                        (object.id.hex() + ".body")));
    CHECK(store->stats().value().objects == 0u);
    CHECK(store->stats().value().bytes_present == 0u);
}

TEST_CASE("cache/store: everything survives close and reopen") {
    TempDir dir;
    auto body = pattern_bytes(40, 5);
    ObjectInfo object;
    {
        auto store = open_store(dir.path());
        object = store->begin_object(head_for("http://a/x", 40), 2000).value();
        write_all_chunks(*store, object, body);
        object = store->mark_complete(object).value();
        REQUIRE(store->begin_object(head_for("http://a/partial", 100), 2001));
    }
    auto store = open_store(dir.path());
    auto found = store->lookup("http://a/x").value().value();
    CHECK(found.generation == object.generation);
    CHECK(found.complete());
    std::vector<std::byte> buffer(16);
    for (uint32_t i = 0; i < found.chunk_count(); ++i) {
        auto n = store->read_chunk(found, i, buffer);
        REQUIRE(n.has_value());
        CHECK(std::equal(buffer.begin(), buffer.begin() + static_cast<long>(*n),
                         body.begin() + static_cast<long>(found.chunk_begin(i))));
    }
    auto listed = store->list().value();
    REQUIRE(listed.size() == 2);
    auto stats = store->stats().value();
    CHECK(stats.objects == 2u);
    CHECK(stats.partial_objects == 1u);
    CHECK(stats.bytes_present == 40u);
    // Generations keep increasing across reopen.
    auto again = store->begin_object(head_for("http://a/new", 1), 3000).value();
    CHECK(again.generation > object.generation);
}

TEST_CASE("cache/store: another process reads the index while the writer has it open") {
    TempDir dir;
    auto store = open_store(dir.path());
    auto body = pattern_bytes(40, 6);
    auto object = store->begin_object(head_for("http://a/x", 40), 2000).value();
    write_all_chunks(*store, object, body);

    // LMDB forbids opening one environment twice in a process, so the reader is a child, as
    // dlproxyctl would be. Exit code 0 means it saw the object and read a verified chunk.
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        Options options = small_chunks();
        options.read_only = true;
        auto reader = Store::open(dir.path(), options);
        if (!reader) _exit(10);
        auto found = (*reader)->lookup("http://a/x");
        if (!found || !*found) _exit(11);
        std::vector<std::byte> buffer(16);
        if (!(*reader)->read_chunk(**found, 1, buffer)) _exit(12);
        if ((*reader)->touch(**found, 1).error() != Errc::ReadOnly) _exit(13);
        _exit(0);
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    // The writer carries on afterwards.
    CHECK(store->touch(object, 2100));
}

TEST_CASE("cache/store: a read-only open of a missing cache fails without creating it") {
    TempDir dir;
    Options options = small_chunks();
    options.read_only = true;
    auto store = Store::open(dir.path() / "nothing", options);
    REQUIRE_FALSE(store.has_value());
    CHECK_FALSE(std::filesystem::exists(dir.path() / "nothing"));
}
