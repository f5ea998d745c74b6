// FillCursor: where the main fill of a Fetch stands -- what its transfer is for (Purpose), the
// run of the object it fills, the next byte it needs, and the chunk it is collecting
// (fetch_fill.cpp takes body bytes through it; fetch_range.cpp plans the runs).
//
// A run is [next, end) of the object: plan_fill chooses one (the next missing chunks), a fresh
// answer sets one (the whole object, or a cold range). Body bytes fill the chunk being filled,
// chunk_index(), up to its length; seal() hands it out and the next chunk starts empty. The
// chunk being filled is shared (live_chunk): readers at the live head send its bytes without
// copying them, so its bytes are only ever appended — a chunk dropped or ended is let go, never
// cleared and reused, and a reader still sending from it keeps it alive. A run
// may end early (end_run_here: a range fill holds what follows, or the origin sent more than
// asked); the next run is then planned from the fetch's deferred call (want_replan).
//
// A value with no handles: the Fetch knows the chunk lengths (the object's geometry) and passes
// them in. Thread: the loop thread. Owned by its Fetch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <utility>

#include "cache/aligned_bytes.h"
#include "proxy/fetch/chunk_pipeline.h"

namespace proxy {

class FillCursor {
  public:
    // What the running (or next) upstream request is for; it decides how its answer is judged.
    enum class Purpose {
        Full,              // the whole object, from byte 0
        Revalidate,        // a conditional request for a complete stored object
        Range,             // a run of missing chunks (Range + If-Range), or a resume
        ColdRange,         // the first client's range of an object nobody holds
        RevalidateBehind,  // stale-while-revalidate: the clients read the stored copy meanwhile
    };
    Purpose purpose() const { return purpose_; }
    void set_purpose(Purpose purpose) { purpose_ = purpose; }

    // A run [from, to) whose first byte is in chunk `index`: the chunk being filled starts
    // empty (from is at its start, or inside it for a cold range's 206 that begins there).
    void begin_run(uint64_t from, uint64_t to, uint32_t index) {
        next_ = from;
        run_end_ = to;
        chunk_index_ = index;
        chunk_.reset();
    }
    // The next request starts at `from`; its answer sets the run (on_new_object).
    void start_at(uint64_t from) { next_ = from; }
    // A transfer starts from next(): the fill's pace counts from here (policy/fill_pace.h).
    void transfer_started() { run_begin_ = next_; }

    uint64_t next() const { return next_; }
    uint64_t run_begin() const { return run_begin_; }
    uint64_t run_end() const { return run_end_; }
    bool in_run() const { return next_ < run_end_; }
    // The run ends at next(): what follows is held or claimed by a range fill.
    void end_run_here() { run_end_ = next_; }

    uint32_t chunk_index() const { return chunk_index_; }
    std::span<const std::byte> chunk_bytes() const {
        return chunk_ ? std::span<const std::byte>(chunk_->bytes) : std::span<const std::byte>();
    }
    size_t chunk_capacity() const { return chunk_ ? chunk_->bytes.capacity() : 0; }
    // The chunk being filled (null before its first byte): its bytes up to the size a reader
    // sees never change.
    ChunkPtr live_chunk() const { return chunk_; }
    // Takes bytes of `data` [0, size) into the chunk being filled, up to `chunk_length` (its
    // length in the object) and the run's end; returns how many it took.
    size_t take(const std::byte* data, size_t size, size_t chunk_length);
    bool chunk_full(size_t chunk_length) const {
        return chunk_ && chunk_->bytes.size() == chunk_length;
    }
    // The chunk being filled is complete: it is handed out; the next one starts empty.
    std::shared_ptr<Chunk> seal();
    // The fill stopped: a chunk not yet complete is fetched again later.
    void drop_chunk() { chunk_.reset(); }

    // The next run is to be planned from the fetch's deferred call (Fetch::run_deferred).
    void want_replan() { replan_ = true; }
    bool replan_due() const { return replan_; }
    bool take_replan() { return std::exchange(replan_, false); }
    void cancel_replan() { replan_ = false; }

  private:
    Purpose purpose_ = Purpose::Full;
    uint64_t next_ = 0;       // next byte offset the fill needs
    uint64_t run_begin_ = 0;  // where the running transfer began
    uint64_t run_end_ = 0;    // end of the byte run the transfer is filling
    uint32_t chunk_index_ = 0;
    std::shared_ptr<Chunk> chunk_;  // the chunk being filled: chunk_index_, from its start
    bool replan_ = false;
};

}  // namespace proxy
