// ChunkPipeline: where the chunks of one Fetch are between the origin and the index — in memory,
// waiting to be written, written and waiting for their records — and which batch goes to the
// worker next (DESIGN.md "The job, as data flowing through").
//
// Sealed chunks (from the main fill or a range fill) enter with add(): they are kept in memory
// for readers and queue for writing. Writing and committing are two pipelined worker jobs that
// Fetch runs (fetch_fill.cpp): take_stage_batch() hands it the next chunks to write (one job at
// a time, at most 32 chunks: one pwritev), on_written() files the written chunks as waiting for
// their records, take_commit_batch() hands it the records to commit and on_committed() forgets
// them once the index holds them. One job of each kind runs at a time, so a commit covers exactly
// the chunks whose writes finished before it started. The pipeline itself runs nothing: it is
// the state and the batching decisions, with no loop, store or clock.
//
// Caching stops after a disk error (stop_caching: what is written still gets one last commit)
// or when the object changed (drop_pending_writes: nothing more is written or recorded); the
// download keeps being served from memory either way.
//
// Thread: the loop thread. Owned by its Fetch.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "cache/aligned_bytes.h"
#include "cache/store.h"

namespace proxy {

struct Chunk {
    uint32_t index = 0;
    cache::AlignedBytes bytes;  // aligned so the store can write it with O_DIRECT
};
using ChunkPtr = std::shared_ptr<const Chunk>;

class ChunkPipeline {
  public:
    using StageBatch = std::shared_ptr<std::vector<ChunkPtr>>;
    using CommitBatch = std::shared_ptr<std::vector<cache::StagedChunk>>;

    // A sealed chunk: kept in memory for readers and, while caching, queued for writing.
    void add(ChunkPtr chunk);
    // A filled chunk held in memory (just filled, maybe not yet on disk); nullptr otherwise.
    ChunkPtr memory_chunk(uint32_t index) const;
    // A chunk written but not yet recorded: readable with Store::read_staged_chunk.
    std::optional<cache::StagedChunk> staged(uint32_t index) const;
    // In memory or written: nothing to fetch for it (the index may not hold it yet).
    bool holds(uint32_t index) const {
        return memory_.contains(index) || unrecorded_.contains(index);
    }
    // Written and waiting for its record.
    bool written(uint32_t index) const { return unrecorded_.contains(index); }
    // Drops every chunk held in memory (a new object, or its stored copy replaced).
    void forget_memory() { memory_.clear(); }
    // Drops the chunks in memory that `droppable(index)` allows; Fetch keeps the unwritten ones
    // and the window its readers need (Fetch::trim_memory).
    template <class Droppable>
    void drop_memory_if(Droppable droppable) {
        for (auto it = memory_.begin(); it != memory_.end();)
            it = droppable(it->first) ? memory_.erase(it) : std::next(it);
    }
    // Buffer bytes of the chunks held in memory (their part of the memory budget).
    uint64_t memory_bytes() const;

    bool caching() const { return caching_; }
    // The writes are behind: past `max_unwritten` bytes of sealed chunks waiting in memory (the
    // fill's share of the memory budget), or too many written chunks without records. The fill
    // pauses and the disk sets the pace.
    bool disk_behind(uint64_t max_unwritten) const;
    // A write or commit job is running.
    bool busy() const { return committing_ || stage_jobs_ > 0; }

    // The next chunks to write, counted as a running job; nullptr when a job runs already,
    // nothing waits or caching is off. on_stage_job_done() follows, then on_written() when the
    // writes succeeded.
    StageBatch take_stage_batch();
    void on_stage_job_done() { --stage_jobs_; }
    void on_written(const std::vector<cache::StagedChunk>& chunks);

    // The records to commit; nullptr when a commit runs, nothing is written, or (while writes
    // are running) too few are for a batch: each commit costs two syncs that also hold up the
    // writes behind it, so while the disk is busy records go in batches, when idle at once.
    CommitBatch take_commit_batch();
    // The commit job ended; on success (and while caching) its chunks are recorded.
    void on_commit_done(const std::vector<cache::StagedChunk>& chunks, bool ok);

    // A disk error: nothing more is written, but chunks whose writes succeeded before it (on a
    // full disk: everything but the failed batch) are intact and stay for one last commit.
    void stop_caching();
    // Caching off and nothing more written or recorded (the object changed).
    void drop_pending_writes();

  private:
    std::map<uint32_t, ChunkPtr> memory_;     // filled chunks not yet on disk, plus a few recent
    std::vector<ChunkPtr> to_stage_;          // sealed, waiting for a write job
    std::vector<cache::StagedChunk> staged_;  // written, waiting for a commit
    std::map<uint32_t, cache::StagedChunk> unrecorded_;  // written, not yet committed
    uint64_t unwritten_bytes_ = 0;  // sealed chunks not yet written (in memory)
    size_t stage_jobs_ = 0;         // write jobs running
    bool committing_ = false;
    bool caching_ = true;  // false after a disk error: keep serving, stop writing
};

// Chunks read from disk and verified by one client, offered to the others while any client still
// holds them, so clients reading in step share one buffer; and the reads in flight, so that
// others wait for a read rather than read the same chunk too. Thread: the loop thread.
class SharedReads {
  public:
    ChunkPtr shared(uint32_t index) const {
        auto it = reads_.find(index);
        return it == reads_.end() ? nullptr : it->second.lock();
    }
    bool in_flight(uint32_t index) const { return in_flight_.contains(index); }
    void begin(uint32_t index) { in_flight_.insert(index); }
    // The read of `index` ended with `chunk` (nullptr: it failed).
    void end(uint32_t index, const ChunkPtr& chunk);
    void forget() { reads_.clear(); }

  private:
    std::map<uint32_t, std::weak_ptr<const Chunk>> reads_;
    std::multiset<uint32_t> in_flight_;
};

}  // namespace proxy
