// Fetch: fills one cached object from the origin and lets any number of clients read it while
// it fills (DESIGN.md "The job, as data flowing through").
//
// One Fetch exists per cache key while it is in use (FetchRegistry). It starts from what the
// store has — nothing, a partial object, or a complete one — and decides what to ask the origin:
// the whole object, only the missing chunks (Range + If-Range), a revalidation (If-None-Match /
// If-Modified-Since), or nothing at all for a fresh complete object. Body bytes are collected
// into chunks; a complete chunk is kept in memory for readers and handed to a worker thread that
// writes and syncs it and then records it in the index. Its requests go through the resume
// engine (proxy/upstream/resumable_transfer.h): when a transfer breaks or stalls mid-body the
// engine retries with backoff and resumes from the next byte needed; readers just wait for more
// bytes. What is the fill's own stays here: the breaker, stale-if-error, signed-URL refresh, and
// what an answer means for the stored object.
//
// Clients never own a Fetch: they attach as FetchListeners and read through the accessors.
// Its state is kept in named parts, each with its contract in its header: the outcome towards
// the clients (fetch_outcome.h), the stored object (stored_object.h), where the main fill stands
// (fill_cursor.h), its pace (fill_pacer.h), the chunks between the origin and the index
// (chunk_pipeline.h), separate range fills (range_fill_set.h), a cold range's start
// (cold_range_start.h), the stale allowance (stale_allowance.h), content identity
// (content_identity.h) and a fallback source (fallback_fill.h). Its timers are listed in
// fetch_deferred.cpp.
//
// Thread: the loop thread. Lifetime: owned by the registry; destroyed (deferred, through its
// handles' close callbacks) once no listener is attached and no fill or write is in progress.
#pragma once

#include <uv.h>

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "cache/store.h"
#include "policy/cacheability.h"
#include "policy/cold_range.h"
#include "policy/fill_pace.h"
#include "policy/memory_budget.h"
#include "policy/stale_on_error.h"
#include "proxy/fetch/chunk_pipeline.h"
#include "proxy/fetch/cold_range_start.h"
#include "proxy/fetch/content_identity.h"
#include "proxy/fetch/fallback_fill.h"
#include "proxy/fetch/fetch_outcome.h"
#include "proxy/fetch/fill_cursor.h"
#include "proxy/fetch/fill_pacer.h"
#include "proxy/fetch/fill_status.h"
#include "proxy/fetch/range_fill_set.h"
#include "proxy/fetch/stale_allowance.h"
#include "proxy/fetch/stored_object.h"
#include "proxy/loop/deferred_call.h"
#include "proxy/upstream/resumable_transfer.h"

namespace proxy {

class FetchRegistry;
class Fetch;
class RangeFill;
struct ContentVerdict;

class FetchListener {
  public:
    // An interim (1xx) response arrived before the fill's first answer (RFC 9110 §15.2).
    virtual void on_fetch_interim(int /*status*/, std::string_view /*reason*/,
                                  const policy::HeaderList& /*headers*/) {}
    // The object's head is known: serve it from the fetch's accessors.
    virtual void on_fetch_ready(Fetch& fetch) = 0;
    // The origin's answer is not cacheable. The first listener receives the transfer carrying
    // it (head already parsed); the others receive nullptr and must send their own request.
    virtual void on_fetch_not_cacheable(std::unique_ptr<UpstreamTransfer> transfer, int status,
                                        std::string_view reason,
                                        const policy::HeaderList& headers) = 0;
    // More bytes may be readable (or a chunk could not be read and will come again).
    virtual void on_fetch_progress(Fetch& fetch) = 0;
    // The object cannot be completed correctly (it changed on the origin, retries exhausted).
    virtual void on_fetch_failed(Fetch& fetch, std::string_view why) = 0;
    // The next body byte this listener sends; nullopt when it is not sending the body.
    virtual std::optional<uint64_t> read_position() const = 0;

  protected:
    ~FetchListener() = default;
};

class Fetch final : private ResumeOwner {
  public:
    using State = FetchState;

    // `request`: GET of the object with the first client's end-to-end headers (no Range, no
    // conditionals). `stale`: what the operator allows for the host when a complete stored
    // object's revalidation fails (a 5xx: stale_if_error; no answer: stale_if_disconnected, once
    // the retries that fit the client's patience are spent): the object is served stale instead,
    // as RFC 9111 §4.2.4 allows unless the stored response forbids it (must-revalidate,
    // no-cache...). A stale-if-error directive in the stored response or the request allows it
    // too, at once (policy/stale_on_error.h). Call start() next.
    Fetch(FetchRegistry& registry, std::string key, UpstreamRequest request,
          policy::StaleHostSettings stale = {});
    ~Fetch();
    Fetch(const Fetch&) = delete;
    Fetch& operator=(const Fetch&) = delete;

    void start(int64_t now);

    // `range`: the client's Range header, if any. A client whose range is all stored does not
    // restart a stopped fill (serve_stored_range).
    void attach(FetchListener* listener, std::optional<std::string_view> range = std::nullopt);
    void detach(FetchListener* listener);

    State state() const { return outcome_.state(); }
    const std::string& key() const { return key_; }
    // The request this fetch sends upstream: its first client's (URL included).
    const UpstreamRequest& request() const { return request_; }
    // The stored object's strong validator, for If-Range and for authorising hits.
    std::optional<policy::Validator> validator() const;
    const cache::ObjectInfo& object() const { return stored_.object(); }
    CacheResult result() const { return outcome_.result(); }
    // The sha256 this object must have (a content key's, a redirect's or the response's own
    // Repr-Digest/Digest), 64 hex digits; empty when nothing announced one.
    const std::string& announced_sha256() const { return identity_.announced_sha256(); }
    // "verifying" while the sha256 is computed, else the stored verdict (cache::ContentCheck).
    std::string_view content_state() const;
    // Bytes of more than one server (a fallback source continued the fill) whose sha256 verdict
    // is not in yet: a reader holds back the object's last byte until it is (issue 16 item 3),
    // so a client never has a complete-looking copy that the verdict could still refuse.
    bool content_pending() const {
        return object().content_check == cache::ContentCheck::MixedPending;
    }
    // The origin's own end-to-end head for a fresh fill (with the fields a cache does not store,
    // such as Set-Cookie), for the client whose request caused it; empty otherwise.
    const policy::HeaderList& origin_headers() const { return stored_.origin_headers(); }
    bool complete() const { return stored_.complete(); }
    // Every chunk is here (on disk, written, or in memory): nothing more comes from the origin.
    bool fill_done() const;
    // The result of a client joining this fill that reads bytes [from, to): Hit when every
    // chunk of them is held already (stored, written or in memory), PartialHit when the first
    // is, Miss otherwise -- not the fill's own result, which tells how the fill began.
    CacheResult held_result(uint64_t from, uint64_t to) const;

    // Reader access, by chunk index. A chunk is readable from memory (just filled, maybe not yet
    // on disk), from disk (recorded in the index: read and verify it with the store), or partly
    // from the live fill buffer; otherwise it is still to come.
    ChunkPtr memory_chunk(uint32_t index) const;
    bool on_disk(uint32_t index) const { return stored_.on_disk(index); }
    // A chunk written but not yet recorded: readable with Store::read_staged_chunk.
    std::optional<cache::StagedChunk> staged(uint32_t index) const;
    // The main fill's chunk being filled, when it is `index`: its bytes so far may be sent
    // without a copy (they never change; fill_cursor.h). Null otherwise.
    ChunkPtr live_chunk(uint32_t index) const;
    // What a range fill has of chunk `index` so far (its buffer is reused: copy the bytes).
    std::span<const std::byte> range_fill_bytes(uint32_t index) const;
    // Chunks read from disk and verified by one client, offered to the others while any
    // client still holds them: clients reading in step share one buffer.
    ChunkPtr shared_read(uint32_t index) const { return reads_.shared(index); }
    // A reader is reading chunk `index` from disk; others wait for it rather than read it too.
    // end_read (with the chunk, or nullptr when the read failed) wakes every listener.
    bool read_in_flight(uint32_t index) const { return reads_.in_flight(index); }
    void begin_read(uint32_t index) { reads_.begin(index); }
    void end_read(uint32_t index, const ChunkPtr& chunk);
    // Expires when this fetch is freed: for worker completions that outlive their reader.
    std::weak_ptr<bool> alive_token() const { return alive_; }
    // A reader found chunk `index` missing or corrupt on disk: forget it and fill it again.
    void chunk_lost(uint32_t index);

    cache::Store& store();
    uv_loop_t* loop();

    // A reader needs byte `from` (of [from, to)) and nobody holds it: wait for the fill to get
    // there, or fetch that region with a separate range request (fetch_range.cpp,
    // policy/range_wait.h).
    void want_range(uint64_t from, uint64_t to);
    // A listener sent body bytes: a fill held for it may run again (policy/fill_pace.h).
    void reader_progress();

    // What GET /status shows for this fill (fetch_status.cpp).
    FillStatus status() const;

    // The chunk buffers this fetch holds (its part of the memory budget, fetch_memory.cpp).
    uint64_t memory_held() const;

    // Content identity (fetch_identity.cpp, docs/model-hosts.md).
    // Whether this object gets a sha256: a digest was announced to check it against, it was
    // filled from two servers, or content_sha256 is "all".
    bool wants_sha256() const;
    void verify_stored_content();
    void on_content_verdict(ContentVerdict verdict);
    // `computed`: what the quarantined copy hashed to.
    void refetch_after_mismatch(const std::string& computed);
    // Every listener gets on_fetch_failed(`why`): its client is closed short.
    void close_listeners_short(std::string_view why);
    // A resume to a signed URL was refused (400/403/410): fetch a fresh URL through the request
    // that redirected to it. False when there is nothing to refresh with.
    bool try_refresh_url(int status);
    void on_url_refreshed(const RefreshResult& result);
    // The origin of a resolve URL cannot be reached: serve its verified content from the cache.
    bool try_offline_answer(std::string_view why);

    // Registry use: true when nothing needs this fetch any more.
    bool idle() const;
    // Fetching from the origin with no client attached (fetch_background.cpp).
    bool filling_without_clients() const;
    void close();  // deferred delete via the close callbacks of its handles

    // Set when the fetch failed because its origin's breaker is open (FetchEnd::HostDown):
    // the Retry-After for the 503 its clients get. 0 otherwise.
    uint32_t host_down_retry_after() const { return outcome_.host_down_retry_after(); }

  private:
    friend class RangeFill;
    using BodyAction = UpstreamSink::BodyAction;
    using Purpose = FillCursor::Purpose;

    // ResumeOwner: the engine's events (fetch.cpp, fetch_fill.cpp, fetch_retry.cpp).
    HeadAnswer on_resume_head(const ResumeHead& head) override;
    BodyAction on_resume_body(const char* data, size_t size) override;
    void on_resume_end(const ResumeOutcome& outcome) override;
    bool may_retry(const RetryPlan& plan) override;
    void on_retry_scheduled(const RetryPlan& plan) override;
    bool restart_without_run() override;
    void on_recovered(uint64_t offset, uint64_t outage_ms, uint64_t resent) override;

    // Sends the request with `extra` headers; with `run`, for that run of the object (Range +
    // If-Range, judged by the engine).
    void start_transfer(const policy::HeaderList& extra, std::string_view what,
                        std::optional<ResumeRun> run = std::nullopt);
    ResumeRun run(uint64_t from, uint64_t to) const;  // [from, to) of object()
    // The next missing run from chunk `from` on (a client's range), or from byte 0 when none
    // is missing after it.
    void plan_fill(uint32_t from = 0);
    void become_ready(CacheResult result);
    // `run`: the part of the object the running transfer carries (a cold range); the whole
    // object when absent.
    // RFC 9111 §4.1: a response that varies is stored under the variant key its request selects
    // (fetch_semantics.cpp); the registry then finds this fetch under that key.
    void select_variant(const policy::HeaderList& headers);
    // ResumeOwner: an interim response before the head goes to every listener.
    void on_resume_interim(int status, std::string_view reason,
                           const policy::HeaderList& headers) override;
    void on_new_object(int status, const policy::HeaderList& headers,
                       std::optional<policy::ByteRange> run = std::nullopt);
    void hand_over(int status, std::string_view reason, const policy::HeaderList& headers);
    // Ends the fill: clients are closed short; chunks are dropped only for ObjectChanged.
    void fail(FetchEnd end, std::string detail);
    // accept_partial rejected the answer to a Range request.
    HeadAnswer on_range_rejected(int status, std::string_view reason,
                                 const policy::HeaderList& headers, policy::PartialReason why);
    // The fetch's deferred call and hold re-check (fetch_deferred.cpp).
    void run_deferred();
    void recheck_held_fill();
    // Before any client has a head, retries must fit the client's patience.
    bool retry_fits_before_head(const RetryPlan& plan) const;
    void notify_progress();
    void retire_transfer() { engine_->stop(); }  // safe inside curl callbacks
    // After a 304 that matched: merges its headers into the stored object, renews its times and
    // saves them (save_revalidated_headers).
    void refresh_from_304(const policy::HeaderList& headers);
    // After a 304: writes the stored object's merged headers and times to the store on a worker.
    void save_revalidated_headers();
    // A revalidation failed (`cause`): serves the stored object when allowed; false otherwise.
    bool serve_stale(policy::RevalidationFailure failure, std::string_view cause);
    bool can_serve_stale(policy::RevalidationFailure failure) const;  // serve_stale would serve
    // stale-while-revalidate (fetch_revalidate_behind.cpp): the clients read the stored copy
    // while a conditional request runs behind them.
    void revalidate_behind();
    HeadAnswer on_revalidated_behind(int status, const policy::HeaderList& headers);
    void on_revalidate_behind_end(const ResumeOutcome& outcome);
    void schedule_replan();

    // Background fill (fetch_background.cpp): the last client has gone; continue or stop as
    // configured. A stopped fill keeps what it has and starts again when a client attaches.
    void on_last_detach();
    void stop_fill(std::string_view why);
    void restart_fill();
    bool filling() const;
    uint64_t bytes_held() const;

    // Chunk collection and commits (fetch_fill.cpp).
    size_t append_body(const std::byte* data, size_t size);
    void seal_chunk();
    bool held(uint32_t index) const;  // no need to fetch it
    void maybe_stage();
    void maybe_commit();
    void on_committed(const std::vector<cache::StagedChunk>& chunks, cache::Result<void> result);
    void stop_caching(const cache::Error& error);  // logs; records what is written, drops the rest
    void drop_pending_writes();                    // caching off, nothing more written
    bool disk_behind() const;                      // the fill must wait for the disk
    void maybe_resume();
    void trim_memory();
    void finish_object();
    void record_object(const cache::ObjectHead& head, int64_t now);

    // Ranges on a cold object (fetch_cold_range.cpp, policy/cold_range.h): the first request
    // asks for the first client's range; the fill continues behind it.
    void remember_cold_range();  // from the first client's Range, before it is removed
    bool start_cold_range();
    HeadAnswer on_cold_range_head(int status, std::string_view reason,
                                  const policy::HeaderList& headers);
    // A reader moved on or left: start the fill behind the cold run when none reads inside it.
    void release_fill_behind();
    // A range (aligned, as ColdRangeStart keeps it) of a partial object is all held: its
    // client reads the stored chunks and the origin is not asked; the fill behind waits as
    // after a cold range. False (nothing changed) when a chunk of it is missing.
    bool serve_stored_range(const std::optional<policy::ColdRange>& wanted);

    // Separate range fills (fetch_range.cpp).
    bool main_fill_running() const;
    void accept_range_chunk(ChunkPtr chunk);
    void range_fill_over(RangeFill& fill, RangeFillEnd why, std::string_view detail);
    // Just filled, or within the window ahead of the furthest client: kept in memory.
    bool recent(uint32_t index, std::optional<uint64_t> lead,
                const policy::FillMemory& limits) const;
    std::optional<uint64_t> lead_reader() const;  // the furthest listener's read_position()
    void wake_held_fill();          // a fill held for its clients re-decides from the deferred call
    policy::FillPace pace() const;  // policy::decide_fill_pace for this fill
    // This fill's share of the memory budget: its window, unwritten limit (fetch_memory.cpp).
    policy::FillMemory memory_limits() const;

    // Fallback sources (fetch_fallback.cpp, fallback_fill.h). The origin failed with `end`:
    // the fill continues from the first source configured for the host; false when there is
    // none or this fill cannot use one (nothing stored to compare with, a revalidation).
    bool try_fallback(FetchEnd end, const std::string& detail);
    // The source's answer is judged before any byte of it is taken; a source that fails or
    // differs gives way to the next, or ends the fill as the origin's failure would have.
    HeadAnswer on_fallback_head(const ResumeHead& head);
    void fallback_failed(std::string why);
    void start_fallback();
    // The source's first bytes are about to be taken: the record says MixedPending before any
    // of them is (stage and commit wait for it, as for begin_object).
    void mark_mixed_source();
    policy::ContentFacts stored_facts() const;  // what the stored object is, for same_content
    // The origin (or the source in use) failed with `end`: a fallback, else fail().
    void origin_failed(FetchEnd end, std::string detail);

    FetchRegistry& registry_;
    std::string key_;
    UpstreamRequest request_;
    FetchOutcome outcome_;  // starting, ready, handed over or failed, and why (fetch_outcome.h)
    std::vector<FetchListener*> listeners_;
    StaleAllowance stale_;    // whether a failed revalidation may serve the stored copy
    StoredObject stored_;     // the record, its present chunks, its record jobs (stored_object.h)
    ChunkPipeline pipeline_;  // memory, writes and commits of the chunks (chunk_pipeline.h)
    SharedReads reads_;       // see shared_read()

    // The upstream requests (retries, resumes, stall watch); what they are for is in cursor_.
    std::unique_ptr<ResumableTransfer> engine_;
    FillCursor cursor_;         // purpose, run, next byte, the chunk being filled (fill_cursor.h)
    FillPacer pacer_;           // paused for the disk, held for readers, stopped (fill_pacer.h)
    ColdRangeStart cold_;       // the first client's Range asked for first (cold_range_start.h)
    RangeFillSet range_fills_;  // separate range fills and their back-off (range_fill_set.h)
    ContentIdentity identity_;  // sha256 and signed-URL refresh (content_identity.h)
    FallbackFill fallback_;     // the source continuing a fill its origin failed

    DeferredCall deferred_;    // what must not run inside curl callbacks (fetch_deferred.cpp)
    uint64_t started_ms_ = 0;  // when this fetch started, for the rate in status()
    bool closing_ = false;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace proxy
