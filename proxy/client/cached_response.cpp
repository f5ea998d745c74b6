#include "proxy/client/cached_response.h"

#include "policy/memory_budget.h"

#include <spdlog/spdlog.h>

#include "policy/byte_range.h"
#include "policy/content_digest.h"
#include "policy/freshness.h"
#include "policy/validation.h"
#include "policy/vary.h"
#include "proxy/admin/metrics.h"
#include "proxy/client/client_connection.h"
#include "proxy/fetch/fetch_registry.h"
#include "proxy/loop/clock.h"
#include "proxy/loop/worker.h"

namespace proxy {

namespace {

constexpr uint64_t kLiveQueueLimit = 256 * 1024;

// Fields of a stored head that a 304 repeats (RFC 9110 §15.4.5).
constexpr std::string_view k304Fields[] = {"cache-control", "content-location", "date", "etag",
                                           "expires",       "last-modified",    "vary"};

}  // namespace

CachedResponse::CachedResponse(ClientConnection& conn, FetchRegistry& registry, std::string key,
                               const UpstreamRequest& request,
                               const policy::HeaderList& client_headers, CacheAccess access)
    : conn_(conn),
      registry_(registry),
      key_(std::move(key)),
      request_(request),
      client_headers_(client_headers),
      access_(access) {}

CachedResponse::~CachedResponse() {
    *alive_ = false;
    finish();
}

void CachedResponse::start() {
    bool created = false;
    fetch_ = &registry_.acquire(key_, request_, created, access_.stale);
    // A request that joins a running fetch is a hit when the object is already complete, and
    // a collapsed miss otherwise; the fetch's creator reports how the fetch went.
    if (!created && fetch_->state() == Fetch::State::Ready)
        result_ = fetch_->complete() ? CacheResult::Hit : CacheResult::Miss;
    joined_ = !created;
    // May call on_fetch_ready at once (fresh hit); the Range tells a stopped fill whether
    // this client needs it.
    fetch_->attach(this, policy::find_header(client_headers_, "range"));
}

void CachedResponse::finish() {
    if (authorization_) authorization_->cancel();
    if (fetch_ && !joined_) result_ = fetch_->result();
    joined_ = true;  // from now on result_ holds the answer
    done_ = true;
    if (fetch_) {
        Fetch* f = fetch_;
        fetch_ = nullptr;
        f->detach(this);
    }
}

CacheResult CachedResponse::result() const {
    if (joined_ || !fetch_) return result_;
    return fetch_->result();
}

void CachedResponse::on_fetch_interim(int status, std::string_view reason,
                                      const policy::HeaderList& headers) {
    if (!head_sent_ && !done_) conn_.send_interim(status, reason, headers);
}

void CachedResponse::on_fetch_ready(Fetch& fetch) {
    if (head_sent_ || done_) return;
    // RFC 9111 §4.1: a fill joined before its response named its Vary may be another variant
    // than this request selects. This request then goes upstream on its own. A content key
    // names the bytes themselves and has no variants (Fetch::select_variant).
    if (!policy::sha256_of_content_key(fetch.key()) &&
        !policy::vary_matches(fetch.object().headers, fetch.request().headers, request_.headers)) {
        spdlog::debug("cache: {}: the response varies and this request selects another variant",
                      key_);
        finish();
        conn_.on_cache_bypass(nullptr, 0, "", {});
        return;
    }
    if (needs_authorization(fetch)) {
        if (authorization_) return;  // asked already; its answer calls here again
        // An object stored by its content (`sha256:<hex>`) may have been filled from another
        // host, whose validator this one does not know: ask for its first byte without one and
        // compare the complete length (the redirect already named the same sha256).
        std::optional<policy::Validator> validator;
        if (!policy::sha256_of_content_key(key_)) validator = fetch.validator();
        authorization_ = std::make_unique<HitAuthorization>(
            registry_.loop(), registry_.curl(), *this, request_, validator,
            fetch.object().complete_length, registry_.config().high_water_mark);
        authorization_->start();
        return;
    }
    send_head(fetch);
    pump();
}

bool CachedResponse::needs_authorization(const Fetch& fetch) const {
    if (!access_.signed_url || authorized_) return false;
    // The fetch asked the origin with this very URL (a fill, a resume, a revalidation): the
    // origin's answer to it was the authorisation. A hit from storage asked nobody.
    return fetch.request().url != request_.url || fetch.result() == CacheResult::Hit;
}

void CachedResponse::on_hit_authorization(Outcome outcome,
                                          std::unique_ptr<UpstreamTransfer> transfer, int status,
                                          std::string_view reason,
                                          const policy::HeaderList& headers,
                                          std::string_view detail) {
    if (done_) return;
    const uint64_t ms = authorization_->elapsed_ms();
    switch (outcome) {
        case Outcome::Serve:
            spdlog::debug("cache: {}: hit authorised by the origin in {} ms ({})", key_, ms,
                          detail);
            authorized_ = true;
            metrics().hit_authorizations.inc();
            if (fetch_ && fetch_->state() == Fetch::State::Ready) on_fetch_ready(*fetch_);
            return;
        case Outcome::HandOver:
            spdlog::info("cache: {}: the origin answered {} to this URL ({}); passed to the client",
                         key_, status, detail);
            metrics().hit_authorization_refusals.inc();
            finish();
            conn_.on_cache_bypass(std::move(transfer), status, reason, headers);
            return;
        case Outcome::Refetch:
            spdlog::info(
                "cache: {}: the origin accepted this URL for another representation ({});"
                " the request goes upstream",
                key_, detail);
            finish();
            conn_.on_cache_bypass(nullptr, 0, "", {});
            return;
        case Outcome::Unreachable:
            spdlog::warn(
                "cache: {}: could not ask the origin whether this signed URL may read "
                "the cached copy ({}); not served",
                key_, detail);
            metrics().hit_authorization_refusals.inc();
            finish();
            conn_.on_cached_failed(
                "the origin could not confirm this signed URL for the cached copy: " +
                std::string(detail));
            return;
    }
}

void CachedResponse::send_head(Fetch& fetch) {
    const cache::ObjectInfo& obj = fetch.object();
    const uint64_t length = obj.complete_length;
    // The client whose request filled the object sees the origin's head as sent (Set-Cookie
    // included); everyone else sees the stored one.
    const bool first_client =
        !joined_ && fetch.result() == CacheResult::Miss && !fetch.origin_headers().empty();
    policy::HeaderList headers = first_client ? fetch.origin_headers() : obj.headers;
    // RFC 9111 §5.1: the first client gets the origin's Age as received; a response served
    // from storage (or from a fill another request started) carries its current_age (§4.2.3).
    const int64_t now = wall_seconds();
    if (!first_client) {
        int64_t age = policy::current_age(obj.headers, obj.request_time, obj.response_time, now);
        policy::remove_header(headers, "age");
        headers.push_back({"Age", std::to_string(age)});
    }
    policy::remove_header(headers, "content-length");
    policy::remove_header(headers, "content-range");
    // A stored 404 or 301 is answered as it is: the client's conditionals and Range apply to a
    // 200's representation only (RFC 9110 §13.2.1, §14.2).
    const int stored_status = obj.status != 0 ? obj.status : 200;
    if (stored_status == 200 && !policy::find_header(headers, "accept-ranges"))
        headers.push_back({"Accept-Ranges", "bytes"});

    int status = stored_status;
    policy::ByteRange range{0, length};
    const auto preconditions =
        stored_status == 200 ? policy::evaluate_preconditions("GET", client_headers_, obj.headers)
                             : policy::PreconditionOutcome::Full;
    switch (preconditions) {
        case policy::PreconditionOutcome::NotModified: {
            policy::HeaderList h;
            for (const auto& f : headers)
                for (auto name : k304Fields)
                    if (policy::iequals(f.name, name)) h.push_back(f);
            head_sent_ = true;
            conn_.send_cached_head(304, h);
            pos_ = end_ = 0;
            return;
        }
        case policy::PreconditionOutcome::PreconditionFailed:
            head_sent_ = true;
            conn_.send_cached_error(412, "dlproxy: precondition failed");
            done_ = true;
            return;
        case policy::PreconditionOutcome::RangeAllowed: {
            auto value = policy::find_header(client_headers_, "range");
            auto resolved = policy::resolve_range_header(value.value_or(""), length);
            if (resolved.outcome == policy::RangeOutcome::Unsatisfiable) {
                head_sent_ = true;
                conn_.send_cached_error(416, "dlproxy: requested range not satisfiable",
                                        policy::format_unsatisfied_range(length));
                done_ = true;
                return;
            }
            // Several ranges are answered with the whole representation (RFC 9110 §14.2 allows it).
            if (resolved.outcome == policy::RangeOutcome::Satisfiable &&
                resolved.ranges.size() == 1) {
                status = 206;
                range = resolved.ranges.front();
                headers.push_back({"Content-Range", policy::format_content_range(range, length)});
            }
            break;
        }
        case policy::PreconditionOutcome::Full:
            break;
    }
    if (status != 204)  // RFC 9110 §8.6: never on a 204
        headers.push_back({"Content-Length", std::to_string(range.length())});
    // A client joining a fill still running reads what is held already: that decides its
    // result (a HIT for a range read from the store), not how the fill began.
    if (joined_ && result_ == CacheResult::Miss && status != 204)
        result_ = fetch.held_result(range.begin, range.end);
    pos_ = range.begin;
    end_ = range.end;
    head_sent_ = true;
    conn_.send_cached_head(status, headers);
    if (result() == CacheResult::Hit && obj.generation != 0) {
        // Hit count and last access feed LRU eviction; an index write, so on a worker.
        cache::Store* store = &fetch.store();
        cache::ObjectInfo object = obj;
        run_on_worker(
            registry_.loop(), [store, object, now] { (void)store->touch(object, now); }, [] {});
    }
}

void CachedResponse::pump() {
    if (!fetch_ || done_ || !head_sent_ || pumping_) return;
    pumping_ = true;  // sending may re-enter through progress notifications
    const cache::ObjectInfo& obj = fetch_->object();
    const uint64_t hwm = registry_.config().high_water_mark;
    bool stalled = false;
    const uint64_t started_at = pos_;
    // A mixed-source object's last byte waits for its sha256 verdict (Fetch::content_pending):
    // a client never holds a complete copy the verdict could still refuse.
    const uint64_t send_end =
        fetch_->content_pending() && end_ == obj.complete_length && end_ > pos_ ? end_ - 1 : end_;
    while (pos_ < send_end && conn_.queued() < hwm && !reading_disk_) {
        auto index = static_cast<uint32_t>(obj.chunk_of(pos_));
        uint64_t begin = obj.chunk_begin(index);
        uint64_t length = std::min(obj.chunk_length(index), send_end - begin);
        if (disk_chunk_ && disk_chunk_->index == index) {
            count_from_cache(std::min(end_, begin + length) - pos_);
            // Read the next chunk while this one is sent: inside a TLS tunnel sending means
            // encrypting on this thread, and reading after it would leave one of the two
            // idle at any time (warm HTTPS ran at 0.78x direct that way).
            read_ahead(index + 1);
            send_chunk(disk_chunk_, begin, length);
            continue;
        }
        if (auto chunk = fetch_->memory_chunk(index)) {
            // A hit read from the chunks a fill just kept in memory is from the cache all the
            // same (the status page's "saved" read 0 B for a hit right after a small fill).
            if (result() == CacheResult::Hit)
                count_from_cache(std::min(end_, begin + length) - pos_);
            send_chunk(chunk, begin, length);
            continue;
        }
        if (fetch_->on_disk(index) || (fetch_->staged(index) && waiting_for_commit_ != index)) {
            // Another client of this fetch may have just read (and verified) it.
            if (auto shared = fetch_->shared_read(index)) {
                disk_chunk_ = std::move(shared);
                continue;
            }
            // ...or be reading it now: wait for that read (end_read wakes us) instead of
            // holding a second copy. Clients that start together otherwise all read chunk 0.
            if (fetch_->read_in_flight(index)) break;
            read_from_disk(index);
            break;
        }
        // A reader at the live head queues only a little: the socket buffer holds the rest, so
        // it stays close to the fill, and 100 slow readers following fills do not each pin a
        // high-water mark of chunks.
        if (auto live = fetch_->live_chunk(index)) {
            // The main fill's chunk only grows: its bytes so far go out without a copy.
            const uint64_t live_length = std::min<uint64_t>(live->bytes.size(), length);
            if (live_length > pos_ - begin) {
                if (conn_.queued() >= kLiveQueueLimit) break;
                send_chunk(live, begin, live_length);
                continue;
            }
        }
        auto live = fetch_->range_fill_bytes(index);
        const uint64_t live_length = std::min<uint64_t>(live.size(), length);
        if (live_length > pos_ - begin) {
            // A range fill's buffer is reused: its bytes are copied.
            if (conn_.queued() >= kLiveQueueLimit) break;
            send_from(live.data(), begin, live_length);
            continue;
        }
        stalled = true;
        break;
    }
    pumping_ = false;
    // A reader that has sent its last byte detaches below instead: its progress would start
    // the fill behind a range it has just left (release_fill_behind) only to stop it again.
    if (pos_ != started_at && fetch_ && pos_ < end_) fetch_->reader_progress();
    // Nobody holds the next byte: the fetch decides whether to wait for its fill or to fetch
    // the rest of this range separately (policy/range_wait.h).
    if (stalled && fetch_) fetch_->want_range(pos_, end_);
    // Held back for the verdict: waiting, as for the fill (the verdict's progress wakes it).
    if (pos_ == send_end && send_end < end_) stalled = true;
    if (pos_ >= end_ && !reading_disk_) {
        waiting_ = false;
        Fetch* f = fetch_;
        finish();
        (void)f;
        conn_.finish_cached();
        return;
    }
    // The gap budget counts silence: re-arm it whenever bytes went out, not only when the
    // reader starts or stops waiting.
    if (stalled != waiting_ || (stalled && pos_ != started_at)) {
        waiting_ = stalled;
        conn_.on_cached_waiting(waiting_);
    }
}

void CachedResponse::count_from_cache(uint64_t bytes) {
    bytes_from_cache_ += bytes;
    metrics().bytes_from_cache.add(bytes);
}

// Sends [pos_, min(end_, chunk_begin + available)) from a chunk's bytes.
bool CachedResponse::send_from(const std::byte* data, uint64_t chunk_begin, uint64_t available) {
    uint64_t stop = std::min(end_, chunk_begin + available);
    if (stop <= pos_) return false;
    conn_.send_cached_body(reinterpret_cast<const char*>(data + (pos_ - chunk_begin)),
                           static_cast<size_t>(stop - pos_));
    pos_ = stop;
    return true;
}

void CachedResponse::send_chunk(const ChunkPtr& chunk, uint64_t chunk_begin, uint64_t available) {
    uint64_t stop = std::min(end_, chunk_begin + available);
    if (stop <= pos_) return;
    conn_.send_cached_chunk(chunk, static_cast<size_t>(pos_ - chunk_begin),
                            static_cast<size_t>(stop - pos_));
    pos_ = stop;
}

void CachedResponse::read_ahead(uint32_t index) {
    const cache::ObjectInfo& obj = fetch_->object();
    if (reading_disk_ || obj.chunk_begin(index) >= end_) return;
    // Short of memory: one chunk per client at a time (policy/memory_budget.h).
    if (!policy::may_read_ahead(registry_.memory().pressure())) return;
    if (!fetch_->on_disk(index) || fetch_->memory_chunk(index) || fetch_->read_in_flight(index) ||
        fetch_->shared_read(index))
        return;
    read_from_disk(index);
}

void CachedResponse::read_from_disk(uint32_t index) {
    reading_disk_ = true;
    auto chunk = std::make_shared<Chunk>();
    chunk->index = index;
    const cache::ObjectInfo obj = fetch_->object();
    chunk->bytes.resize(obj.chunk_length(index));
    auto result = std::make_shared<cache::Result<size_t>>(size_t{0});
    cache::Store* store = &fetch_->store();
    std::weak_ptr<bool> alive = alive_;
    std::optional<cache::StagedChunk> staged = fetch_->staged(index);
    Fetch* fetch = fetch_;
    std::weak_ptr<bool> fetch_alive = fetch_->alive_token();
    fetch->begin_read(index);
    run_on_worker(
        registry_.loop(),
        [store, obj, chunk, result, index, staged] {
            *result = staged ? store->read_staged_chunk(obj, *staged, chunk->bytes)
                             : store->read_chunk(obj, index, chunk->bytes);
        },
        [this, alive, fetch, fetch_alive, chunk, result, index, staged] {
            // The fetch learns the outcome even when this reader has gone meanwhile: others
            // may be waiting for this read.
            if (!fetch_alive.expired()) fetch->end_read(index, *result ? chunk : nullptr);
            if (alive.expired()) return;
            reading_disk_ = false;
            if (!fetch_ || done_) return;
            if (!*result && result->error() == cache::Errc::ChecksumMismatch)
                metrics().checksum_failures.inc();
            if (*result) {
                disk_chunk_ = chunk;
            } else if (staged) {
                // No record to drop yet: the commit (or its absence) decides; read it then.
                spdlog::warn("cache: {} chunk {} (written, not yet recorded): {}", key_, index,
                             cache::to_string(result->error()));
                waiting_for_commit_ = index;
            } else {
                spdlog::warn("cache: {} chunk {}: {}", key_, index,
                             cache::to_string(result->error()));
                fetch_->chunk_lost(index);  // fetched again; we wait for it
            }
            pump();
        });
}

void CachedResponse::on_fetch_not_cacheable(std::unique_ptr<UpstreamTransfer> transfer, int status,
                                            std::string_view reason,
                                            const policy::HeaderList& headers) {
    fetch_ = nullptr;  // the fetch has dropped its listeners
    done_ = true;
    conn_.on_cache_bypass(std::move(transfer), status, reason, headers);
}

std::optional<uint64_t> CachedResponse::read_position() const {
    if (!head_sent_ || done_ || pos_ >= end_) return std::nullopt;
    return pos_;
}

void CachedResponse::on_fetch_progress(Fetch&) {
    pump();
}

void CachedResponse::on_fetch_failed(Fetch& fetch, std::string_view why) {
    if (done_) return;
    const uint32_t retry_after = fetch.host_down_retry_after();
    finish();
    conn_.on_cached_failed(why, retry_after);
}

}  // namespace proxy
