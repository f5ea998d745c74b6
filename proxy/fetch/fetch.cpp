// Fetch: deciding what to ask the origin, judging its answers, retrying.
// Chunk collection and commits are in fetch_fill.cpp.
#include "proxy/fetch/fetch.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>

#include "policy/byte_range.h"
#include "policy/content_digest.h"
#include "policy/freshness.h"
#include "policy/validation.h"
#include "proxy/admin/metrics.h"
#include "proxy/fetch/fetch_registry.h"
#include "proxy/fetch/range_fill.h"
#include "proxy/upstream/host_health.h"

namespace proxy {

namespace {

int64_t now_seconds() {
    return static_cast<int64_t>(std::time(nullptr));
}

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

std::string_view to_string(FetchEnd e) {
    switch (e) {
        case FetchEnd::ObjectChanged:
            return "object changed on the origin";
        case FetchEnd::ResumeRefused:
            return "the origin refused the resume";
        case FetchEnd::RetriesExhausted:
            return "retries exhausted";
        case FetchEnd::NoValidator:
            return "cannot resume without a validator";
        case FetchEnd::Unusable:
            return "origin response unusable";
        case FetchEnd::StartFailed:
            return "could not start the upstream request";
        case FetchEnd::HostDown:
            return "origin unavailable";
    }
    return "failed";
}

std::string_view to_string(CacheResult r) {
    switch (r) {
        case CacheResult::Hit:
            return "HIT";
        case CacheResult::Miss:
            return "MISS";
        case CacheResult::PartialHit:
            return "PARTIAL_HIT";
        case CacheResult::Revalidated:
            return "REVALIDATED";
    }
    return "MISS";
}

Fetch::Fetch(FetchRegistry& registry, std::string key, UpstreamRequest request, bool stale_if_error)
    : registry_(registry),
      key_(std::move(key)),
      request_(std::move(request)),
      stale_if_error_(stale_if_error),
      stall_(stall_config_from(registry.config())) {
    uv_timer_init(registry_.loop(), &timer_);
    timer_.data = this;
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
    return to_policy(object_.validator);
}

cache::Store& Fetch::store() {
    return registry_.store();
}
uv_loop_t* Fetch::loop() {
    return registry_.loop();
}

void Fetch::start(int64_t now) {
    if (attempt_ == 0) first_attempt_ms_ = uv_now(loop());
    if (started_ms_ == 0) started_ms_ = uv_now(loop());
    last_tick_ms_ = uv_now(loop());
    uv_timer_start(&timer_, &Fetch::timer_cb, kTickMs, kTickMs);  // stall watch + retries
    // An object being invalidated on a worker (it changed on the origin) is as good as gone.
    auto found = registry_.invalidating(key_)
                     ? cache::Result<std::optional<cache::ObjectInfo>>(std::nullopt)
                     : store().lookup(key_);
    if (!found) {
        spdlog::warn("cache lookup failed for {}: {}", key_, cache::to_string(found.error()));
    } else if (*found && (*found)->content_check == cache::ContentCheck::Mismatch) {
        // This fetch is the refetch: a second mismatch quarantines again, with no third try.
        identity_.mark_refetched();
        spdlog::info(
            "fetch {}: the stored object is quarantined (sha256 mismatch); fetching it again",
            key_);
    } else if (*found) {
        object_ = **found;
        registry_.with_pending_revalidation(object_);
        object_recorded_ = true;
        auto map = store().present_chunks(object_);
        if (map) present_ = *map;
        // Every chunk recorded is as good as complete, even when the record still says Partial
        // (a crash between the last chunk commit and mark_complete): serve it and fix the record.
        if (map && present_.size() == object_.chunk_count() && present_.all_present()) {
            finish_object();
            verify_stored_content();  // an object completed before it could be hashed
            auto freshness =
                policy::evaluate_freshness(object_.headers, request_.headers,
                                           {object_.request_time, object_.response_time}, now);
            if (freshness.state == policy::Freshness::Fresh) {
                become_ready(CacheResult::Hit);
                return;
            }
            purpose_ = Purpose::Revalidate;
            stale_on_error_ = policy::stale_on_error(object_.headers, request_.headers,
                                                     {object_.request_time, object_.response_time},
                                                     now, stale_if_error_);
            start_transfer(policy::conditional_headers(object_.headers), "revalidate");
            return;
        }
        if (to_policy(object_.validator)) {
            purpose_ = Purpose::Range;
            plan_fill();
            return;
        }
        // A partial object without a validator cannot be completed safely: start over.
    }
    if (start_cold_range()) return;
    purpose_ = Purpose::Full;
    next_ = 0;
    start_transfer({}, "fetch");
}

void Fetch::start_transfer(const policy::HeaderList& extra, std::string_view what) {
    if (registry_.curl().in_action()) {
        deferred_start_.emplace(extra, std::string(what));
        uv_timer_start(&timer_, &Fetch::timer_cb, 0, kTickMs);
        return;
    }
    // Nothing has reached a client yet (a first request, or its retries): an origin whose
    // breaker is open fails it at once. Revalidations go ahead: a stale copy may still be
    // served if the origin cannot be reached.
    if (state_ != State::Ready && purpose_ != Purpose::Revalidate) {
        HostVerdict verdict = host_health().admit(request_.url);
        if (verdict.refused) {
            // Failed from the timer: start() runs before the first client is attached.
            retry_after_s_ = verdict.retry_after_s;
            host_refusal_ = std::move(verdict.reason);
            uv_timer_start(&timer_, &Fetch::timer_cb, 0, kTickMs);
            return;
        }
    }
    UpstreamRequest req = request_;
    req.counts_for_breaker = attempt_ == 0;
    for (const auto& h : extra)
        req.headers.push_back(h);
    transfer_ = std::make_unique<UpstreamTransfer>(registry_.curl(), *this,
                                                   registry_.config().high_water_mark);
    last_byte_ms_ = uv_now(loop());
    stall_.begin_request(last_byte_ms_);
    run_begin_ = next_;
    pacer_.clear_hold();
    spdlog::debug("fetch {}: {} (attempt {})", key_, what, attempt_ + 1);
    ++attempts_total_;
    if (!transfer_->start(req)) {
        transfer_.reset();
        fail(FetchEnd::StartFailed, "could not start the upstream request");
    }
}

void Fetch::attach(FetchListener* listener) {
    listeners_.push_back(listener);
    if (fill_stopped_) restart_fill();
    if (state_ == State::Ready) listener->on_fetch_ready(*this);
}

void Fetch::detach(FetchListener* listener) {
    std::erase(listeners_, listener);
    wake_held_fill();  // its client may have been the one holding it
    release_fill_behind();
    if (listeners_.empty()) on_last_detach();
    if (idle()) registry_.release(*this);
}

bool Fetch::idle() const {
    if (!listeners_.empty() || pipeline_.busy() || recording_ || deferred_start_ ||
        identity_.verifying() || identity_.refreshing())
        return false;
    // Background fill: a fill with bytes to go continues without clients.
    if (state_ == State::Ready && (transfer_ || retry_pending_) && pipeline_.caching())
        return false;
    // The refetch after a sha256 mismatch starts without clients (fetch_identity.cpp).
    if (state_ == State::Starting && identity_.refetched() && (transfer_ || retry_pending_))
        return false;
    return true;
}

void Fetch::close() {
    if (closing_) return;
    closing_ = true;
    if (transfer_) transfer_->detach();
    range_fills_.stop_all();
    uv_timer_stop(&timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_),
             [](uv_handle_t* h) { delete static_cast<Fetch*>(h->data); });
}

void Fetch::become_ready(CacheResult result) {
    state_ = State::Ready;
    result_ = result;
    auto listeners = listeners_;
    for (auto* l : listeners)
        l->on_fetch_ready(*this);
}

void Fetch::on_upstream_head(int status, std::string_view reason,
                             const policy::HeaderList& headers) {
    if (state_ == State::Failed) return;
    // RFC 5861 §4: the origin or the client said a stale answer beats an error: no retries.
    if (stale_on_error_.at_once && purpose_ == Purpose::Revalidate && status >= 500 &&
        serve_stale("status " + std::to_string(status)))
        return;
    // Errors worth another try, before any byte of a body is used.
    if (policy::retryable_status(status)) {
        auto retry_after = policy::find_header(headers, "retry-after");
        auto decision = policy::classify(policy::FailureKind::HttpStatus, status, retry_after,
                                         attempt_, uv_now(loop()) - first_attempt_ms_,
                                         registry_.retry(), registry_.random(), now_seconds());
        if (decision.retry &&
            (state_ == State::Ready || retry_fits_before_head(decision.delay_ms))) {
            retire_transfer();  // its body is dropped
            schedule_retry(policy::FailureKind::HttpStatus, status, retry_after,
                           "status " + std::to_string(status));
            return;
        }
        metrics().give_ups.inc();
        spdlog::warn(
            "fetch {}: status {} after {} attempt(s); giving up ({}): the client gets it", key_,
            status, attempt_ + 1,
            decision.retry ? "no time left for another" : policy::to_string(decision.reason));
    }
    if (purpose_ == Purpose::Revalidate && status >= 500 &&
        serve_stale("status " + std::to_string(status)))
        return;
    switch (purpose_) {
        case Purpose::Revalidate:
            if (status == 304 && policy::matches_304(object_.headers, headers)) {
                auto merged = policy::merge_304(object_.headers, headers);
                int64_t now = now_seconds();
                // The clients are answered from object_ at once; the record follows on a worker,
                // fire-and-forget (a commit must not run on the loop). Nothing waits for it: the
                // headers and times set here are what the store will hold, and should a request
                // read the old record meanwhile, it merely revalidates once more.
                object_.headers = merged;
                object_.request_time = now;
                object_.response_time = now;
                save_revalidated_headers();
                retire_transfer();
                become_ready(CacheResult::Revalidated);
                return;
            }
            on_new_object(status, headers);
            if (state_ == State::Handed) hand_over(status, reason, headers);
            return;
        case Purpose::ColdRange:
            on_cold_range_head(status, reason, headers);
            return;
        case Purpose::Full:
            on_new_object(status, headers);
            if (state_ == State::Handed) hand_over(status, reason, headers);
            return;
        case Purpose::Range: {
            auto decision = policy::accept_partial(plan_, status, headers, object_.complete_length);
            if (decision.action == policy::PartialAction::Reject) {
                on_range_rejected(status, reason, headers, decision.reason);
                return;
            }
            prefix_.skip = decision.skip_bytes;
            if (decision.action == policy::PartialAction::Restart) {
                prefix_.check_overlap = false;
                spdlog::info("fetch {}: origin ignored Range; discarding the first {} bytes", key_,
                             prefix_.skip);
            }
            if (state_ != State::Ready)
                become_ready(object_.bytes_present > 0 ? CacheResult::PartialHit
                                                       : CacheResult::Miss);
            return;
        }
    }
}

void Fetch::on_range_rejected(int status, std::string_view reason,
                              const policy::HeaderList& headers, policy::PartialReason why) {
    // Mid-fill, a signed URL that expired: ask for a fresh one and continue at the same byte.
    if (state_ == State::Ready && try_refresh_url(status)) return;
    if (state_ != State::Ready && status != 200 && status != 206 && status != 416) {
        // Forbidden or gone now (an expired signed URL's 403, a 404, a 5xx after the retries):
        // the origin's answer goes to the client, and the stored chunks stay -- an error status
        // is no evidence that the object changed (policy::judge_held_bytes).
        hand_over(status, reason, headers);
        return;
    }
    if (state_ != State::Ready && status == 200) {
        // The stored partial copy is outdated and nobody has seen it: start afresh.
        spdlog::info("fetch {}: stored copy changed on the origin ({}); replacing it", key_,
                     policy::to_string(why));
        present_ = cache::ChunkMap();
        pipeline_.forget_memory();
        purpose_ = Purpose::Full;
        on_new_object(status, headers);
        if (state_ == State::Handed) hand_over(status, reason, headers);
        return;
    }
    retire_transfer();
    auto verdict = policy::judge_held_bytes(plan_, status, headers, object_.complete_length);
    std::string detail = "status " + std::to_string(status) + ", " +
                         std::string(policy::to_string(why)) + "; " +
                         std::string(policy::to_string(verdict.evidence));
    fail(verdict.action == policy::HeldBytes::Invalidate ? FetchEnd::ObjectChanged
                                                         : FetchEnd::ResumeRefused,
         std::move(detail));
}

// A full (200) response for a new object: store it when allowed, otherwise hand it over.
void Fetch::on_new_object(int status, const policy::HeaderList& headers,
                          std::optional<policy::ByteRange> run) {
    auto decision = policy::decide_storable("GET", request_.headers, status, headers);
    auto length = policy::body_length(status, headers);
    if (!decision.store || !length || registry_.config().cache_size == 0) {
        spdlog::debug("fetch {}: not cached ({})", key_, policy::to_string(decision.reason));
        state_ = State::Handed;
        return;
    }
    select_variant(headers);
    int64_t now = now_seconds();
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
    object_ = cache::ObjectInfo{};
    object_.key = key_;
    object_.status = head.status;
    object_.headers = head.headers;
    object_.validator = head.validator;
    object_.complete_length = head.complete_length;
    object_.chunk_size = store().options().chunk_size;
    object_.request_time = object_.response_time = object_.created = object_.last_access = now;
    object_recorded_ = false;
    record_object(head, now);
    origin_headers_ = policy::end_to_end(headers);
    if (auto sha = policy::announced_sha256(headers)) identity_.announce(*sha);
    present_ = cache::ChunkMap(static_cast<uint32_t>(object_.chunk_count()));
    pipeline_.forget_memory();
    next_ = run ? run->begin : 0;
    run_end_ = run ? run->end : object_.complete_length;
    fill_index_ = static_cast<uint32_t>(object_.chunk_of(next_));
    fill_.clear();
    prefix_.skip = 0;
    prefix_.check_overlap = false;
    become_ready(CacheResult::Miss);
    if (object_.complete_length == 0) {
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
    std::unique_ptr<UpstreamTransfer> transfer = std::move(transfer_);
    for (auto* l : listeners) {
        l->on_fetch_not_cacheable(std::move(transfer), status, reason, headers);
        transfer.reset();
    }
    if (transfer) {  // nobody wanted it: drop it (freed with this fetch, outside curl callbacks)
        transfer->detach();
        retired_.push_back(std::move(transfer));
    }
    registry_.release(*this);
}

void Fetch::on_upstream_done(const UpstreamResult& result) {
    // Called from CurlMulti after the handle left the multi: the transfer may be freed here.
    auto transfer = std::move(transfer_);
    if (state_ == State::Failed || state_ == State::Handed || closing_) return;
    if (result.ok() && state_ == State::Ready) {
        if (next_ < run_end_) {
            schedule_retry(policy::FailureKind::EarlyEof, 0, std::nullopt, "response ended early");
            return;
        }
        if (!cold_.hold_behind(listeners_)) plan_fill();  // the next missing run, or finish
        return;
    }
    if (result.ok()) {
        fail(FetchEnd::Unusable, "origin response could not be used");
        return;
    }
    schedule_retry(failure_kind(result), 0, std::nullopt, result.message);
}

void Fetch::fail(FetchEnd end, std::string detail) {
    if (state_ == State::Failed) return;
    if (state_ != State::Ready &&
        (end == FetchEnd::RetriesExhausted || end == FetchEnd::StartFailed) &&
        try_offline_answer(detail))
        return;
    const bool invalidate = end == FetchEnd::ObjectChanged;
    std::string why = std::string(to_string(end)) + ": " + detail;
    spdlog::warn("fetch {}: giving up: {}; {}", key_, why,
                 invalidate ? "dropping the cached copy"
                            : "keeping the " + std::to_string(bytes_held()) + " bytes held");
    status_events().gave_up(request_.url, next_, why);
    state_ = State::Failed;
    end_ = end;
    retry_pending_ = false;
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
        if (object_recorded_) registry_.remove_object(key_, object_);
    }
    if (listeners_.empty() && !pipeline_.busy()) registry_.release(*this);
}

void Fetch::notify_progress() {
    auto listeners = listeners_;
    for (auto* l : listeners)
        l->on_fetch_progress(*this);
}

}  // namespace proxy
