// proxy/fetch/chunk_pipeline.h: which chunks a fetch holds where, and which batch goes to the
// worker next. The pipeline runs nothing, so its rules are checked here without a loop or store.
#include "proxy/fetch/chunk_pipeline.h"

#include <doctest/doctest.h>

#include <cstddef>
#include <vector>

using proxy::Chunk;
using proxy::ChunkPipeline;
using proxy::ChunkPtr;
using proxy::SharedReads;

namespace {

ChunkPtr chunk(uint32_t index, size_t size = 4096) {
    auto c = std::make_shared<Chunk>();
    c->index = index;
    c->bytes.resize(size);
    return c;
}

std::vector<cache::StagedChunk> written(const ChunkPipeline::StageBatch& batch) {
    std::vector<cache::StagedChunk> out;
    for (const auto& c : *batch)
        out.push_back({c->index, static_cast<uint32_t>(c->bytes.size()), 0});
    return out;
}

}  // namespace

TEST_CASE("proxy/chunk_pipeline: a chunk goes memory -> written -> recorded") {
    ChunkPipeline p;
    p.add(chunk(0));
    CHECK(p.memory_chunk(0));
    CHECK(p.holds(0));
    CHECK_FALSE(p.written(0));
    CHECK(p.disk_behind(4096));  // 4 KiB unwritten reaches a 4 KiB limit
    CHECK_FALSE(p.disk_behind(8192));

    auto batch = p.take_stage_batch();
    REQUIRE(batch);
    CHECK(batch->size() == 1);
    CHECK(p.busy());
    CHECK_FALSE(p.take_stage_batch());  // one write job at a time
    p.on_stage_job_done();
    p.on_written(written(batch));
    CHECK(p.written(0));
    CHECK(p.staged(0));
    CHECK_FALSE(p.disk_behind(4096));  // written bytes no longer count

    auto commit = p.take_commit_batch();  // the disk is idle: commit at once
    REQUIRE(commit);
    CHECK(commit->size() == 1);
    CHECK_FALSE(p.take_commit_batch());  // one commit at a time
    p.on_commit_done(*commit, true);
    CHECK_FALSE(p.busy());
    CHECK_FALSE(p.written(0));
    CHECK_FALSE(p.staged(0));
    CHECK(p.memory_chunk(0));  // memory is trimmed by the fetch, not by commits
}

TEST_CASE(
    "proxy/chunk_pipeline: writes go in batches of 32; records wait for a batch while the "
    "disk writes") {
    ChunkPipeline p;
    for (uint32_t i = 0; i < 40; ++i)
        p.add(chunk(i));
    auto first = p.take_stage_batch();
    REQUIRE(first);
    CHECK(first->size() == 32);
    p.on_stage_job_done();
    auto some = written(first);
    some.resize(10);
    p.on_written(some);
    // 8 chunks still wait for a write: 10 records are too few for a commit of their own.
    CHECK_FALSE(p.take_commit_batch());
    auto second = p.take_stage_batch();
    REQUIRE(second);
    CHECK(second->size() == 8);
    p.on_stage_job_done();
    CHECK(p.take_commit_batch());  // nothing left to write: commit what is written
}

TEST_CASE("proxy/chunk_pipeline: a disk error keeps the written chunks for one last commit") {
    ChunkPipeline p;
    p.add(chunk(0));
    p.add(chunk(1));
    auto batch = p.take_stage_batch();
    REQUIRE(batch);
    p.on_stage_job_done();
    p.on_written(written(batch));
    p.add(chunk(2));
    p.stop_caching();
    CHECK_FALSE(p.caching());
    CHECK_FALSE(p.take_stage_batch());  // nothing more is written
    auto commit = p.take_commit_batch();
    REQUIRE(commit);
    CHECK(commit->size() == 2);
    p.on_commit_done(*commit, true);
    CHECK(p.memory_chunk(2));  // still served from memory
}

TEST_CASE("proxy/chunk_pipeline: the object changed: nothing more is written or recorded") {
    ChunkPipeline p;
    p.add(chunk(0));
    auto batch = p.take_stage_batch();
    REQUIRE(batch);
    p.on_stage_job_done();
    p.on_written(written(batch));
    p.drop_pending_writes();
    CHECK_FALSE(p.take_commit_batch());
    CHECK_FALSE(p.written(0));
    p.add(chunk(1));  // after caching stopped: memory only
    CHECK(p.memory_chunk(1));
    CHECK_FALSE(p.take_stage_batch());
    CHECK_FALSE(p.disk_behind(1));
}

TEST_CASE("proxy/chunk_pipeline: memory is dropped only as the fetch allows") {
    ChunkPipeline p;
    for (uint32_t i = 0; i < 4; ++i)
        p.add(chunk(i, 1000));
    CHECK(p.memory_bytes() >= 4000);
    p.drop_memory_if([](uint32_t index) { return index % 2 == 0; });
    CHECK_FALSE(p.memory_chunk(0));
    CHECK(p.memory_chunk(1));
    CHECK_FALSE(p.memory_chunk(2));
    CHECK(p.memory_chunk(3));
    p.forget_memory();
    CHECK(p.memory_bytes() == 0);
}

TEST_CASE("proxy/chunk_pipeline: shared reads live while a reader holds the chunk") {
    SharedReads reads;
    reads.begin(7);
    reads.begin(7);
    CHECK(reads.in_flight(7));
    reads.end(7, nullptr);  // one read failed; the other is still in flight
    CHECK(reads.in_flight(7));
    {
        ChunkPtr c = chunk(7);
        reads.end(7, c);
        CHECK_FALSE(reads.in_flight(7));
        CHECK(reads.shared(7) == c);
    }
    CHECK_FALSE(reads.shared(7));  // nobody holds it any more
}
