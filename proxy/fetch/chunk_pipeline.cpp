// ChunkPipeline: the chunks between the origin and the index, and the next batch of each job.
#include "proxy/fetch/chunk_pipeline.h"

#include <algorithm>

namespace proxy {

namespace {

// Written chunks whose records are not yet committed (they cost no memory; they bound what a
// crash can leave unrecorded and how long a reader of a written chunk may wait).
constexpr size_t kMaxUnrecordedChunks = 96;
constexpr size_t kCommitBatchChunks = 32;
// Writes run as one worker job at a time of at most kStageBatchChunks chunks (one pwritev):
// two concurrent jobs made each write 3x slower on the disks here and the commits 2x slower.
constexpr size_t kStageJobs = 1;
constexpr size_t kStageBatchChunks = 32;

}  // namespace

void ChunkPipeline::add(ChunkPtr chunk) {
    memory_[chunk->index] = chunk;
    if (caching_) {  // written once the object is recorded
        unwritten_bytes_ += chunk->bytes.size();
        to_stage_.push_back(std::move(chunk));
    }
}

ChunkPtr ChunkPipeline::memory_chunk(uint32_t index) const {
    auto it = memory_.find(index);
    return it == memory_.end() ? nullptr : it->second;
}

std::optional<cache::StagedChunk> ChunkPipeline::staged(uint32_t index) const {
    auto it = unrecorded_.find(index);
    if (it == unrecorded_.end()) return std::nullopt;
    return it->second;
}

uint64_t ChunkPipeline::memory_bytes() const {
    uint64_t bytes = 0;
    for (const auto& [index, chunk] : memory_)
        bytes += chunk->bytes.capacity();
    return bytes;
}

bool ChunkPipeline::disk_behind(uint64_t max_unwritten) const {
    return unwritten_bytes_ >= max_unwritten || unrecorded_.size() >= kMaxUnrecordedChunks;
}

ChunkPipeline::StageBatch ChunkPipeline::take_stage_batch() {
    if (stage_jobs_ >= kStageJobs || to_stage_.empty() || !caching_) return nullptr;
    ++stage_jobs_;
    const auto n = static_cast<std::ptrdiff_t>(std::min(to_stage_.size(), kStageBatchChunks));
    auto batch = std::make_shared<std::vector<ChunkPtr>>(to_stage_.begin(), to_stage_.begin() + n);
    to_stage_.erase(to_stage_.begin(), to_stage_.begin() + n);
    return batch;
}

void ChunkPipeline::on_written(const std::vector<cache::StagedChunk>& chunks) {
    for (const auto& c : chunks) {
        unwritten_bytes_ -= std::min<uint64_t>(unwritten_bytes_, c.length);
        unrecorded_[c.index] = c;
    }
    staged_.insert(staged_.end(), chunks.begin(), chunks.end());
}

ChunkPipeline::CommitBatch ChunkPipeline::take_commit_batch() {
    // With caching off, staged_ holds only what stop_caching() kept for its last commit.
    if (committing_ || staged_.empty()) return nullptr;
    if (caching_ && staged_.size() < kCommitBatchChunks && (stage_jobs_ > 0 || !to_stage_.empty()))
        return nullptr;
    committing_ = true;
    auto batch = std::make_shared<std::vector<cache::StagedChunk>>(std::move(staged_));
    staged_.clear();
    return batch;
}

void ChunkPipeline::on_commit_done(const std::vector<cache::StagedChunk>& chunks, bool ok) {
    committing_ = false;
    if (!ok || !caching_) return;
    for (const auto& c : chunks)
        unrecorded_.erase(c.index);
}

void ChunkPipeline::stop_caching() {
    std::vector<cache::StagedChunk> written = std::move(staged_);
    drop_pending_writes();
    staged_ = std::move(written);
}

void ChunkPipeline::drop_pending_writes() {
    caching_ = false;
    to_stage_.clear();
    staged_.clear();
    unrecorded_.clear();
    unwritten_bytes_ = 0;
}

void SharedReads::end(uint32_t index, const ChunkPtr& chunk) {
    if (auto it = in_flight_.find(index); it != in_flight_.end()) in_flight_.erase(it);
    if (chunk) {
        std::erase_if(reads_, [](const auto& entry) { return entry.second.expired(); });
        reads_[index] = chunk;
    }
}

}  // namespace proxy
