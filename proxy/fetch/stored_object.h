// StoredObject: what a Fetch knows of its object in the store -- the record (head, geometry,
// validators, state, content check), which chunks the index records, whether the record exists
// yet and whether a worker job is changing it -- and the origin's own head of a fresh answer.
//
// The record of a new object is made on a worker (Store::begin_object) while the fill already
// runs: until it exists (recorded()) and while a record job runs (begin_object, mark_complete,
// set_content: recording()), chunk writes and commits wait (writable()); the chunks wait in
// memory meanwhile. A chunk is present only once the index records it (chunk_recorded), and
// complete() means every chunk is. The record here is what the clients are served from: it runs
// ahead of the store's (a 304's merged headers are saved behind it, fetch_fill.cpp).
//
// A value with no handles: the Fetch runs the jobs. Thread: the loop thread. Owned by its Fetch.
#pragma once

#include <cstdint>
#include <utility>

#include "cache/chunk_map.h"
#include "cache/object_info.h"
#include "policy/header_list.h"

namespace proxy {

class StoredObject {
  public:
    const cache::ObjectInfo& object() const { return object_; }
    // For the record's fields the fill changes as it goes (headers after a 304, state, content
    // check) and the records its worker jobs return.
    cache::ObjectInfo& object() { return object_; }
    const cache::ChunkMap& present() const { return present_; }
    bool on_disk(uint32_t index) const { return present_.contains(index); }
    // Every chunk is recorded (false for a zero-length object, which has none).
    bool complete() const { return present_.size() > 0 && present_.all_present(); }

    // The index has a record of this object (begin_object done, or it came from the store).
    bool recorded() const { return recorded_; }
    // A record job (begin_object, mark_complete, set_content) runs on a worker.
    bool recording() const { return recording_; }
    // Chunk writes and commits may go: the record exists and no record job runs.
    bool writable() const { return recorded_ && !recording_; }
    void begin_record_job() { recording_ = true; }
    void end_record_job() { recording_ = false; }

    // The record as the store holds it (a lookup, or a record job's result).
    void adopt(cache::ObjectInfo object) {
        object_ = std::move(object);
        recorded_ = true;
    }
    void set_present(cache::ChunkMap present) { present_ = std::move(present); }
    // A fresh answer starts a new object, not recorded yet and with no chunk present;
    // `origin_headers` is the origin's end-to-end head, for the client that caused the fill.
    void begin_new(cache::ObjectInfo object, policy::HeaderList origin_headers) {
        object_ = std::move(object);
        recorded_ = false;
        origin_headers_ = std::move(origin_headers);
        present_ = cache::ChunkMap(static_cast<uint32_t>(object_.chunk_count()));
    }
    // The stored chunks are outdated (the object changed before anyone saw them).
    void drop_chunks() { present_ = cache::ChunkMap(); }
    // The refetch after a sha256 mismatch: the quarantined record is as good as absent.
    void forget() {
        recorded_ = false;
        stored_complete_ = false;
        present_ = cache::ChunkMap();
    }
    // Served from another complete, verified object (an offline answer): all of it is here.
    void answer_from(cache::ObjectInfo object, cache::ChunkMap present) {
        object_ = std::move(object);
        present_ = std::move(present);
        recorded_ = true;
        stored_complete_ = true;
        origin_headers_.clear();
    }
    bool stored_complete() const { return stored_complete_; }

    void chunk_recorded(uint32_t index) { present_.set(index); }
    // A reader found chunk `index` missing or corrupt on disk: it is no longer present, and the
    // store made the record Partial, so once it is filled again the object is completed again.
    // False when it was not present.
    bool lose_chunk(uint32_t index) {
        if (!present_.contains(index)) return false;
        present_.reset(index);
        object_.state = cache::ObjectState::Partial;
        return true;
    }

    // The origin's own end-to-end head for a fresh fill (with the fields a cache does not
    // store, such as Set-Cookie); empty otherwise.
    const policy::HeaderList& origin_headers() const { return origin_headers_; }

  private:
    cache::ObjectInfo object_;
    cache::ChunkMap present_;
    policy::HeaderList origin_headers_;
    bool recorded_ = false;
    bool recording_ = false;
    bool stored_complete_ = false;  // answer_from: complete in the store from the start
};

}  // namespace proxy
