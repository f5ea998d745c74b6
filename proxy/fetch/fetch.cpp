// Fetch: deciding what to ask the origin, judging its answers, retrying.
// Chunk collection and commits are in fetch_fill.cpp.
#include "proxy/fetch/fetch.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "policy/byte_range.h"
#include "policy/content_digest.h"
#include "policy/freshness.h"
#include "policy/validation.h"
#include "proxy/admin/metrics.h"
#include "proxy/fetch/fetch_registry.h"
#include "proxy/fetch/range_fill.h"
#include "proxy/loop/clock.h"
#include "proxy/upstream/host_health.h"

namespace proxy {

namespace {

std::optional<policy::Validator> to_policy(const cache::Validator& v) {
    if (!v.etag.empty()) return policy::Validator{policy::Validator::Kind::ETag, v.etag};
    if (!v.last_modified.empty())
        return policy::Validator{policy::Validator::Kind::LastModified, v.last_modified};
    return std::nullopt;
}

cache::Validator to_cache(const std::optional<policy::Validator>& v) {
    cache::Validator out;
    if (!v) return out;
    if (v->kind == policy::Validator::Kind::ETag)
        out.etag = v->value;
    else
        out.last_modified = v->value;
    return out;
}

}  // namespace

Fetch::Fetch(FetchRegistry& registry, std::string key, UpstreamRequest request,
             policy::StaleHostSettings stale)
    : registry_(registry), key_(std::move(key)), request_(std::move(request)), stale_(stale) {
    deferred_.init<Fetch, &Fetch::run_deferred>(registry_.loop(), this);
    pacer_.init<Fetch, &Fetch::recheck_held_fill>(registry_.loop(), this);
    const Config& config = registry_.config();
    ResumeSettings settings;
    settings.retry = registry_.retry();
    settings.stall = stall_config_from(config);
    settings.high_water_mark = config.high_water_mark;
    settings.resume_without_validator = config.resume_without_validator;
    engine_ = std::make_unique<ResumableTransfer>(registry_.curl(), registry_.loop(),
                                                  static_cast<ResumeOwner&>(*this), settings,
                                                  "fetch " + key_);
    remember_cold_range();
    // The digest the content must have: its key names it, or the redirect that led here did.
    if (auto sha = policy::sha256_of_content_key(key_)) {
        identity_.announce(*sha);
    } else if (auto location_key = registry_.redirects().key_of(request_.url)) {
        const RememberedRedirect* r = registry_.redirects().by_location(*location_key);
        if (r && r->sha256) identity_.announce(*r->sha256);
    }
    // A reader may be slower than the fill; requests never carry the client's own conditionals.
    for (auto name : {"range", "if-range", "if-none-match", "if-modified-since", "if-match",
                      "if-unmodified-since"})
        policy::remove_header(request_.headers, name);
}

Fetch::~Fetch() {
    *alive_ = false;
}

std::optional<policy::Validator> Fetch::validator() const {
    return to_policy(object().validator);
}

cache::Store& Fetch::store() {
    return registry_.store();
}
uv_loop_t* Fetch::loop() {
    return registry_.loop();
}

void Fetch::start(int64_t now) {
    if (started_ms_ == 0) started_ms_ = uv_now(loop());
    // An object being invalidated on a worker (it changed on the origin) is as good as gone.
    auto found = registry_.invalidating(key_)
                     ? cache::Result<std::optional<cache::ObjectInfo>>(std::nullopt)
                     : store().lookup(key_);
    if (!found) {
        spdlog::warn("cache lookup failed for {}: {}", key_, cache::to_string(found.error()));
    } else if (*found && (*found)->content_check == cache::ContentCheck::Mismatch) {
        // This fetch is the refetch: a second mismatch quarantines again, with no third try.
        identity_.mark_refetched((*found)->sha256);
        spdlog::info(
            "fetch {}: the stored object is quarantined (sha256 mismatch); fetching it again",
            key_);
    } else if (*found) {
        stored_.adopt(**found);
        registry_.with_pending_revalidation(stored_.object());
        auto map = store().present_chunks(object());
        if (map) stored_.set_present(*map);
        // Every chunk recorded is as good as complete, even when the record still says Partial
        // (a crash between the last chunk commit and mark_complete): serve it and fix the record.
        if (map && stored_.present().size() == object().chunk_count() &&
            stored_.present().all_present()) {
            finish_object();
            // An object completed before it could be hashed: its stored head may be what
            // announced its digest.
            if (auto sha = policy::announced_sha256(object().headers)) identity_.announce(*sha);
            verify_stored_content();
            auto freshness =
                policy::evaluate_freshness(object().headers, request_.headers,
                                           {object().request_time, object().response_time}, now);
            if (freshness.state == policy::Freshness::Fresh) {
                become_ready(CacheResult::Hit);
                return;
            }
            if (policy::serve_while_revalidating(object().headers, freshness)) {
                become_ready(CacheResult::Hit);
                revalidate_behind();
                return;
            }
            cursor_.set_purpose(Purpose::Revalidate);
            stale_.decide(object().headers, request_.headers,
                          {object().request_time, object().response_time}, now);
            start_transfer(policy::conditional_headers(object().headers), "revalidate");
            return;
        }
        if (to_policy(object().validator) && content_pending()) {
            // Mixed sources (a fallback source continued it): a client's last byte waits for
            // the sha256 verdict, which needs every byte, so the fill completes the object
            // rather than only the client's range.
            plan_fill();
            return;
        }
        if (to_policy(object().validator)) {
            // The client's range is all stored and fresh: read from the store, like a hit. A
            // fill of the missing runs from byte 0 would make the origin send what this client
            // does not want, compete with its reads and delay its head (issue 18).
            auto freshness =
                policy::evaluate_freshness(object().headers, request_.headers,
                                           {object().request_time, object().response_time}, now);
            if (freshness.state == policy::Freshness::Fresh && serve_stored_range(cold_.wanted())) {
                spdlog::info("fetch {}: partial; the client's range is stored, served from it",
                             key_);
                become_ready(CacheResult::Hit);
                return;
            }
            // Otherwise the fill starts where the client's range misses a chunk, not at byte 0.
            uint32_t from = 0;
            if (cold_.wanted()) {
                cold_.began_with_range();
                from = static_cast<uint32_t>(
                    std::min(object().chunk_of(cold_.wanted()->begin), object().chunk_count()));
            }
            cursor_.set_purpose(Purpose::Range);
            plan_fill(from);
            return;
        }
        // A partial object without a validator cannot be completed safely: start over.
    }
    if (start_cold_range()) return;
    cursor_.set_purpose(Purpose::Full);
    cursor_.start_at(0);
    start_transfer({}, "fetch");
}

void Fetch::start_transfer(const policy::HeaderList& extra, std::string_view what,
                           std::optional<ResumeRun> run) {
    // Nothing has reached a client yet (a first request, or its retries): an origin whose
    // breaker is open fails it at once. Revalidations go ahead: a stale copy may still be
    // served if the origin cannot be reached.
    // A fill continued from a fallback source asks the source (fetch_fallback.cpp).
    if (outcome_.state() != State::Ready && cursor_.purpose() != Purpose::Revalidate) {
        HostVerdict verdict =
            host_health().admit(fallback_.active() ? fallback_.url() : request_.url);
        if (verdict.refused) {
            // Failed from the deferred call: start() runs before the first client is attached.
            outcome_.refuse_start(std::move(verdict.reason), verdict.retry_after_s);
            deferred_.post();
            return;
        }
    }
    UpstreamRequest req = fallback_.active() ? fallback_.request(request_) : request_;
    for (const auto& h : extra)
        req.headers.push_back(h);
    if (fallback_.active() && run) run = fallback_.run(*run);
    cursor_.transfer_started();
    pacer_.clear_hold();
    spdlog::debug("fetch {}: {} (attempt {})", key_, what, engine_->attempt() + 1);
    engine_->start(std::move(req), std::move(run));  // a refused start ends it (StartFailed)
}

ResumeRun Fetch::run(uint64_t from, uint64_t to) const {
    return ResumeRun{from, to, validator(), object().complete_length};
}

void Fetch::attach(FetchListener* listener, std::optional<std::string_view> range) {
    listeners_.push_back(listener);
    // The fill was about to stop after its current chunk: a client is back, it goes on.
    if (pacer_.finishing_chunk()) pacer_.clear_stop();
    if (pacer_.stopped()) {
        // Only a client that needs a missing byte restarts the fill; one whose range is all
        // stored reads it, and the fill waits behind it (as in start()).
        if (outcome_.state() == State::Ready && range &&
            serve_stored_range(policy::plan_cold_range(*range, object().chunk_size)))
            pacer_.clear_stop();
        else
            restart_fill();
    }
    if (outcome_.state() == State::Ready) listener->on_fetch_ready(*this);
}

void Fetch::detach(FetchListener* listener) {
    std::erase(listeners_, listener);
    wake_held_fill();  // its client may have been the one holding it
    release_fill_behind();
    if (listeners_.empty()) on_last_detach();
    if (idle()) registry_.release(*this);
}

bool Fetch::idle() const {
    if (!listeners_.empty() || pipeline_.busy() || stored_.recording() ||
        engine_->start_pending() || identity_.verifying() || identity_.refreshing())
        return false;
    const bool fetching = engine_->running() || engine_->retry_pending();
    // Background fill: a fill with bytes to go continues without clients.
    if (outcome_.state() == State::Ready && fetching && pipeline_.caching()) return false;
    // A revalidation behind a stale-while-revalidate hit outlives its clients.
    if (cursor_.purpose() == Purpose::RevalidateBehind && fetching) return false;
    // The refetch after a sha256 mismatch starts without clients (fetch_identity.cpp).
    if (outcome_.state() == State::Starting && identity_.refetched() && fetching) return false;
    return true;
}

void Fetch::close() {
    if (closing_) return;
    closing_ = true;
    engine_->stop();
    range_fills_.stop_all();
    // Its two handles close one after the other; the second's close callback frees it (libuv
    // frees nothing before its close callback). Both callbacks receive the fetch as `data`.
    deferred_.close([](uv_handle_t* h) {
        static_cast<Fetch*>(h->data)->pacer_.close(
            [](uv_handle_t* h) { delete static_cast<Fetch*>(h->data); });
    });
}

void Fetch::become_ready(CacheResult result) {
    outcome_.become_ready(result);
    auto listeners = listeners_;
    for (auto* l : listeners)
        l->on_fetch_ready(*this);
}

// The clients are answered from object() at once; the record follows on a worker, fire-and-forget
// (a commit must not run on the loop). Nothing waits for it: the headers and times set here are
// what the store will hold, and should a request read the old record meanwhile, it merely
// revalidates once more.
void Fetch::refresh_from_304(const policy::HeaderList& headers) {
    cache::ObjectInfo& stored = stored_.object();
    stored.headers = policy::merge_304(stored.headers, headers);
    const int64_t now = wall_seconds();
    stored.request_time = now;
    stored.response_time = now;
    save_revalidated_headers();
}

HeadAnswer Fetch::on_resume_head(const ResumeHead& head) {
    if (outcome_.state() == State::Failed) return HeadAnswer::Taken;
    if (fallback_.active()) return on_fallback_head(head);
    const int status = head.status;
    const std::string_view reason = head.reason;
    const policy::HeaderList& headers = head.headers;
    if (cursor_.purpose() == Purpose::RevalidateBehind)
        return on_revalidated_behind(status, headers);
    // Every request for a run (a missing run, a resume) is answered as one.
    if (head.partial) cursor_.set_purpose(Purpose::Range);
    // A retryable status got here after the retries that fit (the engine): the client gets it.
    if (cursor_.purpose() == Purpose::Revalidate && status >= 500 &&
        serve_stale(policy::RevalidationFailure::ServerError, "status " + std::to_string(status)))
        return HeadAnswer::Taken;
    switch (cursor_.purpose()) {
        case Purpose::Revalidate:
            if (status == 304 && policy::matches_304(object().headers, headers)) {
                refresh_from_304(headers);
                retire_transfer();
                become_ready(CacheResult::Revalidated);
                return HeadAnswer::Taken;
            }
            [[fallthrough]];
        case Purpose::Full:
            on_new_object(status, headers);
            if (outcome_.state() != State::Handed) return HeadAnswer::Accept;
            hand_over(status, reason, headers);
            return HeadAnswer::Taken;
        case Purpose::ColdRange:
            return on_cold_range_head(status, reason, headers);
        case Purpose::Range:
            if (!head.partial || head.partial->action == policy::PartialAction::Reject)
                return on_range_rejected(
                    status, reason, headers,
                    head.partial ? head.partial->reason : policy::PartialReason::UnexpectedStatus);
            if (outcome_.state() != State::Ready)
                become_ready(object().bytes_present > 0 ? CacheResult::PartialHit
                                                        : CacheResult::Miss);
            return HeadAnswer::Accept;
        case Purpose::RevalidateBehind:  // answered above
            break;
    }
    return HeadAnswer::Refuse;
}

// A full (200) response for a new object: store it when allowed, otherwise hand it over.
void Fetch::on_new_object(int status, const policy::HeaderList& headers,
                          std::optional<policy::ByteRange> run) {
    auto decision = policy::decide_storable("GET", request_.headers, status, headers);
    auto length = policy::body_length(status, headers);
    if (!decision.store || !length || registry_.config().cache_size == 0) {
        spdlog::debug("fetch {}: not cached ({})", key_, policy::to_string(decision.reason));
        outcome_.hand_over();
        return;
    }
    select_variant(headers);
    int64_t now = wall_seconds();
    cache::ObjectHead head;
    head.key = key_;
    head.status = static_cast<uint16_t>(status);
    head.headers = policy::headers_to_store(headers);
    policy::add_date_if_missing(head.headers, now);
    head.validator = to_cache(policy::strong_validator(headers));
    head.complete_length = *length;
    head.request_time = now;
    head.response_time = now;
    // Readers need only the head and the geometry now; the index record (an LMDB commit with
    // its fsync) is made on a worker, and chunks filled meanwhile wait for it in memory.
    cache::ObjectInfo fresh;
    fresh.key = key_;
    fresh.status = head.status;
    fresh.headers = head.headers;
    fresh.validator = head.validator;
    fresh.complete_length = head.complete_length;
    fresh.chunk_size = store().options().chunk_size;
    fresh.request_time = fresh.response_time = fresh.created = fresh.last_access = now;
    stored_.begin_new(std::move(fresh), policy::end_to_end(headers));
    if (auto sha = policy::announced_sha256(headers)) identity_.announce(*sha);
    // Hashed as it is written, when the chunks come in order from byte 0 (fill_sha256.h), if
    // anything wants its sha256 (a mixed-source fill decided later is read back instead).
    if (wants_sha256())
        identity_.fill_sha256().begin();
    else
        identity_.fill_sha256().skip();
    record_object(head, now);
    pipeline_.forget_memory();
    const uint64_t from = run ? run->begin : 0;
    cursor_.begin_run(from, run ? run->end : object().complete_length,
                      static_cast<uint32_t>(object().chunk_of(from)));
    engine_->set_run(this->run(from, cursor_.run_end()));  // this answer's body, from `from`
    become_ready(CacheResult::Miss);
    if (object().complete_length == 0) {
        retire_transfer();
        finish_object();
    }
}

void Fetch::hand_over(int status, std::string_view reason, const policy::HeaderList& headers) {
    // A 5xx after the retries: the host is down for this URL (RFC 9111 §4.2.4 lets a cache
    // answer from storage then).
    if (status >= 500 && try_offline_answer("status " + std::to_string(status))) return;
    auto listeners = listeners_;
    listeners_.clear();
    // The first listener gets the transfer carrying the answer; nobody wanting it, it is dropped.
    std::unique_ptr<UpstreamTransfer> transfer;
    if (listeners.empty())
        retire_transfer();
    else
        transfer = engine_->release();
    for (auto* l : listeners) {
        l->on_fetch_not_cacheable(std::move(transfer), status, reason, headers);
        transfer.reset();
    }
    registry_.release(*this);
}

void Fetch::on_resume_end(const ResumeOutcome& outcome) {
    if (outcome_.state() == State::Failed || outcome_.state() == State::Handed || closing_) return;
    if (cursor_.purpose() == Purpose::RevalidateBehind) {
        on_revalidate_behind_end(outcome);
        return;
    }
    if (fallback_.active() && outcome.end != ResumeEnd::Complete) {
        // Whatever a source's answer says, it ends as the origin's failure (fetch_fallback.cpp).
        fallback_failed(std::string(to_string(outcome.end)) + ": " + outcome.detail);
        return;
    }
    switch (outcome.end) {
        case ResumeEnd::Complete:  // the run is in (the engine resumed any early end)
            if (outcome_.state() != State::Ready) {
                fail(FetchEnd::Unusable, "origin response could not be used");
                return;
            }
            if (!cold_.hold_behind(listeners_)) plan_fill();  // the next missing run, or finish
            return;
        case ResumeEnd::RetriesExhausted:
            // No usable answer within the retries: disconnected (RFC 9111 §4.2.4).
            if (serve_stale(policy::RevalidationFailure::NoAnswer, outcome.detail)) return;
            origin_failed(FetchEnd::RetriesExhausted, outcome.detail);
            return;
        case ResumeEnd::ObjectChanged:
            fail(FetchEnd::ObjectChanged, outcome.detail);
            return;
        case ResumeEnd::ResumeRefused:
            fail(FetchEnd::ResumeRefused, outcome.detail);
            return;
        case ResumeEnd::NoValidator:
            fail(FetchEnd::NoValidator, outcome.detail);
            return;
        case ResumeEnd::StartFailed:
            fail(FetchEnd::StartFailed, outcome.detail);
            return;
    }
}

void Fetch::fail(FetchEnd end, std::string detail) {
    if (outcome_.state() == State::Failed) return;
    if (outcome_.state() != State::Ready &&
        (end == FetchEnd::RetriesExhausted || end == FetchEnd::StartFailed) &&
        try_offline_answer(detail))
        return;
    const bool invalidate = end == FetchEnd::ObjectChanged;
    std::string why = std::string(to_string(end)) + ": " + detail;
    spdlog::warn("fetch {}: giving up: {}; {}", key_, why,
                 invalidate ? "dropping the cached copy"
                            : "keeping the " + std::to_string(bytes_held()) + " bytes held");
    status_events().gave_up(request_.url, cursor_.next(), why);
    outcome_.fail(end);
    retire_transfer();
    range_fills_.end_all("the fill failed");
    auto listeners = listeners_;
    for (auto* l : listeners)
        l->on_fetch_failed(*this, why);
    // An object that changed under us must not be served from its old bytes again. Nothing
    // more of it is written (caching off); a record still being made on a worker is removed
    // when it is done (record_object). Any other end keeps the chunks: sealed ones still go to
    // disk, and the next request resumes after them.
    if (invalidate) {
        drop_pending_writes();
        if (stored_.recorded()) registry_.remove_object(key_, object());
    }
    if (listeners_.empty() && !pipeline_.busy()) registry_.release(*this);
}

void Fetch::notify_progress() {
    auto listeners = listeners_;
    for (auto* l : listeners)
        l->on_fetch_progress(*this);
}

}  // namespace proxy
