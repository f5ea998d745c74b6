// Fetch: collecting body bytes into chunks, committing them through a worker, reader access.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

#include "proxy/fetch.h"
#include "proxy/fetch_registry.h"
#include "proxy/worker.h"

namespace proxy {

namespace {

// Filled chunks waiting for the disk beyond this pause the upstream transfer: the disk sets
// the pace rather than memory.
constexpr uint64_t kMaxUncommittedBytes = 8u << 20;
// Recently committed chunks kept in memory for readers following the fill closely.
constexpr uint32_t kRecentChunks = 2;

}  // namespace

ChunkPtr Fetch::memory_chunk(uint32_t index) const {
    auto it = memory_.find(index);
    return it == memory_.end() ? nullptr : it->second;
}

std::span<const std::byte> Fetch::live_bytes(uint32_t index) const {
    if (state_ != State::Ready || index != fill_index_ || !transfer_) return {};
    return {fill_.data(), fill_.size()};
}

void Fetch::chunk_lost(uint32_t index) {
    if (!present_.contains(index)) return;
    present_.reset(index);
    // The store made the record Partial when it dropped the chunk; once the chunk is filled
    // again, finish_object() must mark it complete.
    object_.state = cache::ObjectState::Partial;
    spdlog::warn("fetch {}: chunk {} unreadable on disk; fetching it again", key_, index);
    if (!transfer_ && !retry_pending_) plan_fill();
}

UpstreamSink::BodyAction Fetch::on_upstream_body(const char* data, size_t size) {
    if (state_ != State::Ready || closing_) return BodyAction::Abort;
    uint64_t uncommitted = 0;
    for (auto& c : to_commit_)
        uncommitted += c->bytes.size();
    if (caching_ && uncommitted >= kMaxUncommittedBytes) {
        paused_for_commits_ = true;
        return BodyAction::Pause;
    }
    last_byte_ms_ = uv_now(loop());
    if (attempt_ > 0 && size > skip_) {
        // The fill is moving again: attempts and the deadline count per outage, so a long
        // download that recovers from many separate faults is never given up for their total.
        attempt_ = 0;
        first_attempt_ms_ = last_byte_ms_;
    }
    auto* bytes = reinterpret_cast<const std::byte*>(data);
    size_t off = 0;
    if (skip_ > 0) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(skip_, size));
        // The last skipped byte of a resumed 206 is the overlap byte: it must equal ours.
        if (check_overlap_ && skip_ <= n && bytes[skip_ - 1] != overlap_byte_) {
            retire_transfer();
            fail("object changed on the origin: the overlapping byte differs");
            return BodyAction::Accept;
        }
        check_overlap_ = false;
        skip_ -= n;
        off = n;
    }
    off += append_body(bytes + off, size - off);
    if (next_ >= run_end_ && off < size) {
        // More than the run asked for (a 200 to a ranged request): take what we need, stop it.
        retire_transfer();
        schedule_replan();
    }
    notify_progress();
    return BodyAction::Accept;
}

size_t Fetch::append_body(const std::byte* data, size_t size) {
    size_t used = 0;
    while (used < size && next_ < run_end_) {
        uint64_t chunk_len = object_.chunk_length(fill_index_);
        if (fill_.capacity() < chunk_len) fill_.reserve(chunk_len);
        size_t n = static_cast<size_t>(
            std::min<uint64_t>({size - used, chunk_len - fill_.size(), run_end_ - next_}));
        fill_.insert(fill_.end(), data + used, data + used + n);
        used += n;
        next_ += n;
        overlap_byte_ = fill_.back();
        if (fill_.size() == chunk_len) seal_chunk();
    }
    return used;
}

void Fetch::seal_chunk() {
    auto chunk = std::make_shared<Chunk>();
    chunk->index = fill_index_;
    chunk->bytes = std::move(fill_);
    memory_[fill_index_] = chunk;
    if (caching_) to_commit_.push_back(chunk);  // committed once the object is recorded
    ++fill_index_;
    fill_ = {};
    maybe_commit();
}

void Fetch::maybe_commit() {
    if (committing_ || recording_ || !object_recorded_ || to_commit_.empty() || !caching_) return;
    committing_ = true;
    auto batch = std::make_shared<std::vector<ChunkPtr>>(std::move(to_commit_));
    to_commit_.clear();
    auto result = std::make_shared<cache::Result<void>>();
    cache::Store* store = &registry_.store();
    cache::ObjectInfo object = object_;
    std::weak_ptr<bool> alive = alive_;
    run_on_worker(
        loop(),
        [store, object, batch, result] {
            std::vector<cache::ChunkWrite> writes;
            writes.reserve(batch->size());
            for (auto& c : *batch)
                writes.push_back({c->index, c->bytes});
            *result = store->write_chunks(object, writes);
        },
        [this, alive, batch, result, registry = &registry_] {
            // The budget counts these bytes even when this fetch is gone: the last chunk of a
            // small object often lands after its client was served and the fetch closed. The
            // registry lives as long as the loop.
            if (*result) {
                uint64_t bytes = 0;
                for (auto& c : *batch)
                    bytes += c->bytes.size();
                registry->after_commit(bytes);
            }
            if (alive.expired()) return;
            on_committed(std::move(*batch), std::move(*result));
        });
}

void Fetch::on_committed(std::vector<ChunkPtr> chunks, cache::Result<void> result) {
    committing_ = false;
    if (closing_) return;
    if (result) {
        for (auto& c : chunks)
            present_.set(c->index);
    } else {
        spdlog::warn("fetch {}: caching stopped: {}; still serving the download", key_,
                     cache::to_string(result.error()));
        caching_ = false;
        to_commit_.clear();
    }
    // Keep only the newest chunks in memory; older ones are read back from disk.
    while (!memory_.empty() && memory_.begin()->first + kRecentChunks < fill_index_ &&
           (present_.contains(memory_.begin()->first) || !caching_))
        memory_.erase(memory_.begin());
    if (paused_for_commits_ && transfer_) {
        paused_for_commits_ = false;
        transfer_->resume_download();
    }
    maybe_commit();
    if (!transfer_ && !retry_pending_ && complete()) finish_object();
    notify_progress();
    if (idle()) registry_.release(*this);
}

void Fetch::record_object(const cache::ObjectHead& head, int64_t now) {
    recording_ = true;
    auto result = std::make_shared<cache::Result<cache::ObjectInfo>>(cache::ObjectInfo{});
    cache::Store* store = &registry_.store();
    std::weak_ptr<bool> alive = alive_;
    run_on_worker(
        loop(), [store, head, now, result] { *result = store->begin_object(head, now); },
        [this, alive, result] {
            if (alive.expired()) return;
            recording_ = false;
            if (*result && state_ == State::Failed && !caching_) {
                // fail() found the object changed on the origin before this record existed
                // (caching_ is off only then on this path): drop the record of the old version.
                auto removed = registry_.store().remove(**result);
                if (!removed)
                    spdlog::warn("fetch {}: could not invalidate the cached copy: {}", key_,
                                 cache::to_string(removed.error()));
                if (!closing_ && idle()) registry_.release(*this);
                return;
            }
            if (closing_) return;
            if (*result) {
                object_ = **result;
                object_recorded_ = true;
                maybe_commit();
                // A zero-length object has no chunk commit to finish it: finish it here.
                finish_object();
            } else {
                spdlog::warn("fetch {}: cannot create cache object: {}; serving without caching",
                             key_, cache::to_string(result->error()));
                caching_ = false;
                to_commit_.clear();
            }
            if (idle()) registry_.release(*this);
        });
}

void Fetch::finish_object() {
    // Not complete(): that is false for a zero-length object, which has no chunks at all. The
    // store refuses to mark an object complete whose recorded bytes fall short.
    if (!present_.all_present() || object_.complete() || recording_ || !object_recorded_) return;
    // The body's bytes are on disk; the record's state changes on a worker (an LMDB commit).
    recording_ = true;
    auto result = std::make_shared<cache::Result<cache::ObjectInfo>>(cache::ObjectInfo{});
    cache::Store* store = &registry_.store();
    cache::ObjectInfo object = object_;
    std::weak_ptr<bool> alive = alive_;
    run_on_worker(
        loop(), [store, object, result] { *result = store->mark_complete(object); },
        [this, alive, result, registry = &registry_] {
            registry->after_complete();
            if (alive.expired()) return;
            recording_ = false;
            if (closing_) return;
            if (*result) {
                object_ = **result;
                spdlog::info("fetch {}: complete ({} bytes)", key_, object_.complete_length);
            } else {
                spdlog::warn("fetch {}: cannot mark complete: {}", key_,
                             cache::to_string(result->error()));
            }
            notify_progress();
            if (idle()) registry_.release(*this);
        });
}

}  // namespace proxy
