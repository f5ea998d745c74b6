// proxy/fetch/stored_object.h: when chunk writes may go, what a new object, a lost chunk, a
// forgotten record and an offline answer leave behind.
#include "proxy/fetch/stored_object.h"

#include <doctest/doctest.h>

using proxy::StoredObject;

namespace {

cache::ObjectInfo object_of(uint64_t length, uint32_t chunk_size = 4) {
    cache::ObjectInfo o;
    o.key = "http://example.test/x";
    o.complete_length = length;
    o.chunk_size = chunk_size;
    return o;
}

}  // namespace

TEST_CASE("proxy/fetch/stored_object: writes wait for the record and for record jobs") {
    StoredObject s;
    CHECK_FALSE(s.writable());
    s.begin_new(object_of(10), {{"X-Origin", "1"}});
    CHECK_FALSE(s.recorded());
    CHECK(s.present().size() == 3);  // 4 + 4 + 2 bytes
    CHECK_FALSE(s.complete());
    CHECK(s.origin_headers().size() == 1);
    s.begin_record_job();  // begin_object on a worker
    CHECK(s.recording());
    s.end_record_job();
    s.adopt(object_of(10));
    CHECK(s.writable());
    s.begin_record_job();  // mark_complete
    CHECK_FALSE(s.writable());
    s.end_record_job();
    CHECK(s.writable());
}

TEST_CASE("proxy/fetch/stored_object: complete once every chunk is recorded") {
    StoredObject s;
    s.begin_new(object_of(8), {});
    s.chunk_recorded(0);
    CHECK(s.on_disk(0));
    CHECK_FALSE(s.complete());
    s.chunk_recorded(1);
    CHECK(s.complete());
}

TEST_CASE("proxy/fetch/stored_object: a zero-length object is never complete()") {
    StoredObject s;
    s.begin_new(object_of(0), {});
    CHECK(s.present().size() == 0);
    CHECK_FALSE(s.complete());
}

TEST_CASE("proxy/fetch/stored_object: a lost chunk makes the record partial") {
    StoredObject s;
    cache::ObjectInfo o = object_of(8);
    o.state = cache::ObjectState::Complete;
    s.adopt(o);
    cache::ChunkMap map(2);
    map.set(0);
    map.set(1);
    s.set_present(map);
    CHECK_FALSE(s.lose_chunk(5));
    CHECK(s.lose_chunk(1));
    CHECK_FALSE(s.on_disk(1));
    CHECK(s.object().state == cache::ObjectState::Partial);
    CHECK_FALSE(s.lose_chunk(1));
}

TEST_CASE("proxy/fetch/stored_object: an offline answer, then the refetch forgets it") {
    StoredObject s;
    s.begin_new(object_of(8), {{"Set-Cookie", "a=b"}});
    cache::ChunkMap map(2);
    map.set(0);
    map.set(1);
    s.answer_from(object_of(8), map);
    CHECK(s.recorded());
    CHECK(s.stored_complete());
    CHECK(s.complete());
    CHECK(s.origin_headers().empty());
    s.forget();
    CHECK_FALSE(s.recorded());
    CHECK_FALSE(s.stored_complete());
    CHECK(s.present().size() == 0);
}
