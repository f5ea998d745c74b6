// Fetch: collecting body bytes into chunks, committing them (and revalidated headers) through a
// worker, reader access.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

#include "policy/fill_pace.h"
#include "policy/memory_budget.h"
#include "proxy/admin/metrics.h"
#include "proxy/fetch/fetch.h"
#include "proxy/fetch/fetch_registry.h"
#include "proxy/fetch/range_fill.h"
#include "proxy/loop/worker.h"

namespace proxy {

namespace {

// Worker: the first hash.chunks chunks of `batch` into the fill's sha256, beside their write
// (they count only once the write succeeded: FillSha256::job_done).
void hash_written(const FillSha256::Job& hash, const std::vector<ChunkPtr>& batch) {
    const double cpu_before = hash.sha->cpu_seconds();
    uint64_t bytes = 0;
    for (size_t i = 0; i < hash.chunks; ++i) {
        hash.add(batch[i]->bytes);
        bytes += batch[i]->bytes.size();
    }
    metrics().sha256_inline_bytes.add(bytes);
    metrics().sha256_cpu_us.add(
        static_cast<uint64_t>((hash.sha->cpu_seconds() - cpu_before) * 1e6));
}

}  // namespace

ChunkPtr Fetch::memory_chunk(uint32_t index) const {
    return pipeline_.memory_chunk(index);
}

std::span<const std::byte> Fetch::range_fill_bytes(uint32_t index) const {
    if (outcome_.state() != State::Ready) return {};
    return range_fills_.live_bytes(index);
}

void Fetch::end_read(uint32_t index, const ChunkPtr& chunk) {
    reads_.end(index, chunk);
    if (!closing_) notify_progress();
}

void Fetch::chunk_lost(uint32_t index) {
    // The store made the record Partial when it dropped the chunk; once the chunk is filled
    // again, finish_object() must mark it complete.
    if (!stored_.lose_chunk(index)) return;
    spdlog::warn("fetch {}: chunk {} unreadable on disk; fetching it again", key_, index);
    if (!engine_->running() && !engine_->retry_pending()) plan_fill();
}

// Body bytes in order, each once: the engine dropped those of a resumed answer already held.
UpstreamSink::BodyAction Fetch::on_resume_body(const char* data, size_t size) {
    if (outcome_.state() != State::Ready || closing_) return BodyAction::Abort;
    if (pipeline_.caching() && disk_behind()) {
        if (pacer_.pause_for_disk(uv_hrtime())) metrics().fill_disk_pauses.inc();
        return BodyAction::Pause;
    }
    // Without clients a chunk being finished (stop_fill) is not held for any reader.
    if (pipeline_.caching() && !pacer_.finishing_chunk() && pace() == policy::FillPace::Hold) {
        pacer_.hold_for_readers(uv_now(loop()));
        return BodyAction::Pause;
    }
    auto* bytes = reinterpret_cast<const std::byte*>(data);
    const size_t used = append_body(bytes, size);
    if (fallback_.active()) {
        fallback_.add_bytes(used);
        metrics().fallback_bytes.add(used);
    }
    if (pacer_.stopped()) return BodyAction::Accept;  // its transfer is retired already
    if (cursor_.next() >= cursor_.run_end() && used < size) {
        // More than the run asked for (a 200 to a ranged request): take what we need, stop it.
        retire_transfer();
        schedule_replan();
    }
    notify_progress();
    return BodyAction::Accept;
}

ChunkPtr Fetch::live_chunk(uint32_t index) const {
    if (outcome_.state() != State::Ready) return nullptr;
    if (index == cursor_.chunk_index() && engine_->running()) return cursor_.live_chunk();
    return nullptr;
}

size_t Fetch::append_body(const std::byte* data, size_t size) {
    size_t used = 0;
    // A fill stopped while sealing (its last chunk finished, stop_fill) takes nothing more.
    while (used < size && cursor_.in_run() && !pacer_.stopped()) {
        auto chunk_len = static_cast<size_t>(object().chunk_length(cursor_.chunk_index()));
        used += cursor_.take(data + used, size - used, chunk_len);
        if (cursor_.chunk_full(chunk_len)) seal_chunk();
    }
    return used;
}

void Fetch::seal_chunk() {
    ChunkPtr chunk = cursor_.seal();
    if (!held(chunk->index)) pipeline_.add(chunk);  // a range fill may have filled it meanwhile
    maybe_stage();
    if (pacer_.finishing_chunk()) {
        stop_fill("the chunk in progress is complete");
        return;
    }
    if (cursor_.next() < cursor_.run_end() &&
        (held(cursor_.chunk_index()) || range_fills_.claims(cursor_.chunk_index()))) {
        // A range fill has (or is fetching) what comes next: end this run here and plan the
        // next one, which skips what is held or claimed.
        cursor_.end_run_here();
        retire_transfer();
        schedule_replan();
    }
}

// Writing and committing are two pipelined worker jobs: while one batch of chunks syncs and
// its records commit, the next batch is already being written (with O_DIRECT, so the bytes
// leave memory without a page-cache copy). One job of each kind runs at a time per fetch, so
// a commit covers exactly the chunks whose writes finished before it started.
void Fetch::maybe_stage() {
    if (!stored_.writable()) return;
    ChunkPipeline::StageBatch batch = pipeline_.take_stage_batch();
    if (!batch) return;
    std::vector<uint32_t> indices;
    indices.reserve(batch->size());
    for (auto& c : *batch)
        indices.push_back(c->index);
    // The chunks that continue the fill's in-order sha256 (fill_sha256.h) are hashed by a job
    // of their own beside the write of the same batch, on another pool thread: hashed inside the
    // write job, each batch waited for its write and then its hash, and a cold fill from a fast
    // origin ran 25 % slower (issue 18). The batch is done when both are; the next batch waits
    // for that, so the memory held is bounded as before.
    FillSha256::Job hash = identity_.fill_sha256().take(indices);
    auto result = std::make_shared<cache::Result<std::vector<cache::StagedChunk>>>();
    auto hashed = std::make_shared<bool>(false);
    auto pending = std::make_shared<int>(hash ? 2 : 1);
    cache::Store* store = &registry_.store();
    cache::ObjectInfo object = stored_.object();
    std::weak_ptr<bool> alive = alive_;
    auto done = [this, alive, result, hash, hashed, pending] {
        if (--*pending > 0) return;  // the other job of this batch is still running
        if (alive.expired()) return;
        pipeline_.on_stage_job_done();
        identity_.fill_sha256().job_done(hash, result->has_value() && *hashed);
        if (closing_) return;
        if (!*result) {
            stop_caching(result->error());
        } else if (pipeline_.caching()) {
            pipeline_.on_written(**result);
            trim_memory();
            maybe_resume();
            maybe_commit();
            maybe_stage();
        }
        if (idle()) registry_.release(*this);
    };
    if (hash && !run_on_worker(
                    loop(),
                    [hash, batch, hashed] {
                        hash_written(hash, *batch);
                        *hashed = true;
                    },
                    done))
        --*pending;  // not queued: the inline hash ends (job_done sees nothing hashed)
    run_on_worker(
        loop(),
        [store, object, batch, result] {
            std::vector<cache::ChunkWrite> writes;
            writes.reserve(batch->size());
            for (auto& c : *batch)
                writes.push_back({c->index, c->bytes});
            *result = store->stage_chunks(object, writes);
        },
        done);
}

void Fetch::stop_caching(const cache::Error& error) {
    if (!pipeline_.caching()) return;
    spdlog::warn("fetch {}: caching stopped: {}; still serving the download", key_,
                 cache::to_string(error));
    // Chunks whose writes succeeded before the error are recorded by one last commit, after
    // syncing them, rather than left to be fetched again. On a full disk that commit may fail
    // too; then nothing more is recorded. Other ways to stop caching (the object changed) drop
    // them with the rest (drop_pending_writes).
    pipeline_.stop_caching();
    maybe_resume();
    maybe_commit();
}

void Fetch::drop_pending_writes() {
    pipeline_.drop_pending_writes();
    maybe_resume();
}

bool Fetch::disk_behind() const {
    // Sealed chunks waiting to be written are held in memory: past the fill's share of the
    // memory budget the upstream transfer pauses and the disk sets the pace.
    return pipeline_.disk_behind(memory_limits().max_unwritten);
}

void Fetch::maybe_resume() {
    if (pipeline_.caching() && disk_behind()) return;
    bool held = false;
    if (pacer_.held_for_readers() && pipeline_.caching()) {
        const policy::FillPace p = pace();
        held = p == policy::FillPace::Hold;
        if (p == policy::FillPace::Breathe) pacer_.breathed(uv_now(loop()));
    }
    if (pacer_.paused() && !held && engine_->running()) {
        metrics().fill_disk_pause_us.add(pacer_.disk_pause_ns(uv_hrtime()) / 1000);
        pacer_.clear();
        engine_->resume_download();  // its stall watch counts from the resumption
    }
    range_fills_.resume_all();
}

bool Fetch::recent(uint32_t index, std::optional<uint64_t> lead,
                   const policy::FillMemory& limits) const {
    if (policy::within_lead_window(object().chunk_begin(index),
                                   object().chunk_begin(index) + object().chunk_length(index), lead,
                                   limits.window))
        return true;
    // Under memory pressure nothing else is kept: readers following closely read it from disk.
    if (!limits.keep_recent) return false;
    if (index < cursor_.chunk_index() && index + policy::kRecentChunks >= cursor_.chunk_index())
        return true;
    return range_fills_.running_near(index, policy::kRecentChunks);
}

// Keeps the newest chunks of each fill (main and range fills), and the window ahead of the
// furthest client, in memory; the others are read back from disk once written. Unwritten chunks
// stay: they are bounded by the fill's share of the memory budget (disk_behind).
void Fetch::trim_memory() {
    const std::optional<uint64_t> lead = lead_reader();
    const policy::FillMemory limits = memory_limits();
    const bool caching = pipeline_.caching();
    pipeline_.drop_memory_if([&](uint32_t index) {
        bool written = !caching || stored_.present().contains(index) || pipeline_.written(index);
        return written && !recent(index, lead, limits);
    });
}

std::optional<cache::StagedChunk> Fetch::staged(uint32_t index) const {
    return pipeline_.staged(index);
}

void Fetch::maybe_commit() {
    if (!stored_.writable()) return;
    ChunkPipeline::CommitBatch batch = pipeline_.take_commit_batch();
    if (!batch) return;
    auto result = std::make_shared<cache::Result<void>>();
    cache::Store* store = &registry_.store();
    cache::ObjectInfo object = stored_.object();
    std::weak_ptr<bool> alive = alive_;
    run_on_worker(
        loop(), [store, object, batch, result] { *result = store->commit_chunks(object, *batch); },
        [this, alive, batch, result, registry = &registry_] {
            // The budget counts these bytes even when this fetch is gone: the last chunk of a
            // small object often lands after its client was served and the fetch closed. The
            // registry lives as long as the loop.
            if (*result) {
                uint64_t bytes = 0;
                for (auto& c : *batch)
                    bytes += c.length;
                registry->after_commit(bytes);
            }
            if (alive.expired()) return;
            on_committed(*batch, std::move(*result));
        });
}

void Fetch::on_committed(const std::vector<cache::StagedChunk>& chunks,
                         cache::Result<void> result) {
    const bool recorded = result && pipeline_.caching();
    pipeline_.on_commit_done(chunks, result.has_value());
    if (closing_) return;
    if (recorded) {
        for (auto& c : chunks)
            stored_.chunk_recorded(c.index);
    } else if (!result) {
        stop_caching(result.error());
    }
    trim_memory();
    maybe_resume();
    maybe_commit();
    if (!engine_->running() && !engine_->retry_pending() && complete()) finish_object();
    notify_progress();
    if (idle()) registry_.release(*this);
}

void Fetch::record_object(const cache::ObjectHead& head, int64_t now) {
    stored_.begin_record_job();
    auto result = std::make_shared<cache::Result<cache::ObjectInfo>>(cache::ObjectInfo{});
    cache::Store* store = &registry_.store();
    std::weak_ptr<bool> alive = alive_;
    run_on_worker(
        loop(), [store, head, now, result] { *result = store->begin_object(head, now); },
        [this, alive, result] {
            if (alive.expired()) return;
            stored_.end_record_job();
            if (*result && outcome_.end() == FetchEnd::ObjectChanged) {
                // fail() found the object changed on the origin before this record existed:
                // drop the record of the old version.
                registry_.remove_object(key_, **result);
                if (!closing_ && idle()) registry_.release(*this);
                return;
            }
            if (closing_) return;
            if (*result) {
                stored_.adopt(**result);
                maybe_stage();
                // A zero-length object has no chunk commit to finish it: finish it here.
                finish_object();
            } else {
                spdlog::warn("fetch {}: cannot create cache object: {}; serving without caching",
                             key_, cache::to_string(result->error()));
                drop_pending_writes();
            }
            if (idle()) registry_.release(*this);
        });
}

void Fetch::finish_object() {
    // Not complete(): that is false for a zero-length object, which has no chunks at all. The
    // store refuses to mark an object complete whose recorded bytes fall short.
    if (!stored_.present().all_present() || object().complete() || stored_.recording() ||
        !stored_.recorded())
        return;
    // The body's bytes are on disk; the record's state changes on a worker (an LMDB commit).
    stored_.begin_record_job();
    auto result = std::make_shared<cache::Result<cache::ObjectInfo>>(cache::ObjectInfo{});
    cache::Store* store = &registry_.store();
    cache::ObjectInfo object = stored_.object();
    std::weak_ptr<bool> alive = alive_;
    run_on_worker(
        loop(), [store, object, result] { *result = store->mark_complete(object); },
        [this, alive, result, registry = &registry_] {
            registry->after_complete();
            if (alive.expired()) return;
            stored_.end_record_job();
            if (closing_) return;
            maybe_stage();
            maybe_commit();
            if (*result) {
                stored_.object() = **result;
                if (fallback_.bytes() > 0)
                    spdlog::info("fetch {}: complete ({} bytes, {} from fallback source {})", key_,
                                 stored_.object().complete_length, fallback_.bytes(),
                                 fallback_.url());
                else
                    spdlog::info("fetch {}: complete ({} bytes)", key_,
                                 stored_.object().complete_length);
                status_events().stored(request_.url, stored_.object().complete_length);
                verify_stored_content();
            } else {
                spdlog::warn("fetch {}: cannot mark complete: {}", key_,
                             cache::to_string(result->error()));
            }
            notify_progress();
            if (idle()) registry_.release(*this);
        });
}

void Fetch::save_revalidated_headers() {
    cache::Store* store = &registry_.store();
    auto object = stored_.object();
    auto result = std::make_shared<cache::Result<cache::ObjectInfo>>(cache::ObjectInfo{});
    auto key = key_;  // the fetch may be gone when this completes: log with a copy
    FetchRegistry* registry = &registry_;  // outlives every fetch and worker completion
    registry->revalidating(object);
    const bool queued = run_on_worker(
        loop(),
        [store, object, result] {
            *result = store->update_headers(object, object.headers, object.request_time,
                                            object.response_time);
        },
        [key, result, registry, object] {
            registry->saved_revalidated(object);
            if (!*result)
                spdlog::warn("fetch {}: could not store the revalidated headers: {}", key,
                             cache::to_string(result->error()));
        });
    if (!queued) registry->saved_revalidated(object);  // nothing pending any more
}

// The answer to the fill's own Range request (a missing run, a resume) that accept_partial
// rejected.
HeadAnswer Fetch::on_range_rejected(int status, std::string_view reason,
                                    const policy::HeaderList& headers, policy::PartialReason why) {
    // Mid-fill, a signed URL that expired: ask for a fresh one and continue at the same byte.
    if (outcome_.state() == State::Ready && try_refresh_url(status)) return HeadAnswer::Taken;
    if (outcome_.state() != State::Ready && status != 200 && status != 206 && status != 416) {
        // Forbidden or gone now (an expired signed URL's 403, a 404, a 5xx after the retries):
        // the origin's answer goes to the client, and the stored chunks stay -- an error status
        // is no evidence that the object changed (policy::judge_held_bytes).
        hand_over(status, reason, headers);
        return HeadAnswer::Taken;
    }
    if (outcome_.state() != State::Ready && status == 200) {
        // The stored partial copy is outdated and nobody has seen it: start afresh.
        spdlog::info("fetch {}: stored copy changed on the origin ({}); replacing it", key_,
                     policy::to_string(why));
        stored_.drop_chunks();
        pipeline_.forget_memory();
        cursor_.set_purpose(Purpose::Full);
        on_new_object(status, headers);
        if (outcome_.state() != State::Handed) return HeadAnswer::Accept;
        hand_over(status, reason, headers);
        return HeadAnswer::Taken;
    }
    // The engine judges what the answer says about the held bytes (policy::judge_held_bytes):
    // ObjectChanged or ResumeRefused, through on_resume_end.
    return HeadAnswer::Refuse;
}

}  // namespace proxy
