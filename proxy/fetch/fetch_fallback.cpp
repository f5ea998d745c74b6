// Fetch: continuing a fill from a fallback source once its origin failed (issue 16 item 3,
// docs/recovery.md "Fallback sources"; the part is fallback_fill.h, the decisions
// policy/fallback_source.h).
#include <spdlog/spdlog.h>

#include "policy/content_digest.h"
#include "proxy/admin/metrics.h"
#include "proxy/fetch/fetch.h"
#include "proxy/fetch/fetch_registry.h"
#include "proxy/loop/worker.h"

namespace proxy {

void Fetch::origin_failed(FetchEnd end, std::string detail) {
    if (fallback_.active()) {
        fallback_failed(std::move(detail));  // the source failed: the next, or the origin's end
        return;
    }
    if (!try_fallback(end, detail)) fail(end, std::move(detail));
}

bool Fetch::try_fallback(FetchEnd end, const std::string& detail) {
    // A source is compared with what is stored: an object whose head is not known yet has
    // nothing to compare with, a revalidation or a complete object has no bytes to fetch.
    if (closing_ || outcome_.state() == State::Failed || cursor_.purpose() == Purpose::Revalidate ||
        stored_.present().size() == 0 || complete())
        return false;
    if (!fallback_.next_source(request_.url, registry_.config().fallback_source, end, detail,
                               uv_now(loop())))
        return false;
    spdlog::warn("fetch {}: origin failed ({}: {}); asking fallback source {} from byte {}", key_,
                 to_string(end), detail, fallback_.url(), cursor_.next());
    start_fallback();
    return true;
}

void Fetch::start_fallback() {
    engine_->reset_outage();  // the source gets its own retries
    if (cursor_.next() < cursor_.run_end())
        start_transfer({}, "fallback",
                       run(cursor_.next(), cursor_.run_end()));  // the run the origin left
    else
        plan_fill();  // start_transfer sends it to the source
}

policy::ContentFacts Fetch::stored_facts() const {
    policy::ContentFacts facts;
    facts.length = object().complete_length;
    facts.sha256 = identity_.announced_sha256();
    // The stored ETag only: a Last-Modified shared by two servers proves no bytes equal.
    if (auto v = validator(); v && v->kind == policy::Validator::Kind::ETag) facts.validator = v;
    return facts;
}

HeadAnswer Fetch::on_fallback_head(const ResumeHead& head) {
    if (fallback_.accepted()) {
        // A resume from the same source: the engine judged it against the source's own ETag.
        if (head.partial && head.partial->action != policy::PartialAction::Reject)
            return HeadAnswer::Accept;
        fallback_failed(
            "status " + std::to_string(head.status) + " to a resume, " +
            std::string(policy::to_string(head.partial ? head.partial->reason
                                                       : policy::PartialReason::UnexpectedStatus)));
        return HeadAnswer::Taken;
    }
    // Not one byte of the source is taken before it proves the same content.
    std::string why = fallback_.judge(stored_facts(), head.status, head.headers, head.partial);
    if (!why.empty()) {
        fallback_failed(std::move(why));
        return HeadAnswer::Taken;
    }
    const uint64_t after_ms = fallback_.accept(head.headers, uv_now(loop()));
    mark_mixed_source();
    engine_->set_run(
        fallback_.run(run(cursor_.next(), cursor_.run_end())));  // its resumes: If-Range, its ETag
    // A sha256 the source announces is checked at the end too, when the origin announced none.
    if (auto sha = policy::announced_sha256(head.headers)) identity_.announce(*sha);
    metrics().fallback_fills.inc();
    spdlog::warn(
        "fetch {}: continuing from fallback source {} at byte {}, {} ms after the origin failed "
        "(same content: {})",
        key_, fallback_.url(), cursor_.next(), after_ms,
        identity_.announced_sha256().empty() ? "length and ETag" : "sha256");
    status_events().resumed(request_.url, cursor_.next(), static_cast<double>(after_ms) / 1000.0,
                            0);
    if (outcome_.state() != State::Ready)
        become_ready(object().bytes_present > 0 ? CacheResult::PartialHit : CacheResult::Miss);
    return HeadAnswer::Accept;
}

void Fetch::mark_mixed_source() {
    if (content_pending() || !pipeline_.caching() || !stored_.recorded()) return;
    stored_.object().content_check =
        cache::ContentCheck::MixedPending;  // readers hold back from now
    // A fallback is accepted only after the fill's object was recorded, and the record's
    // worker jobs (begin_object, mark_complete) never overlap a fill's transfer.
    stored_.begin_record_job();
    auto result = std::make_shared<cache::Result<cache::ObjectInfo>>(cache::ObjectInfo{});
    cache::Store* store = &registry_.store();
    cache::ObjectInfo object = stored_.object();
    const std::string announced = identity_.announced_sha256();
    std::weak_ptr<bool> alive = alive_;
    run_on_worker(
        loop(),
        [store, object, announced, result] {
            *result = store->set_content(object, cache::ContentCheck::MixedPending, "", announced);
        },
        [this, alive, result] {
            if (alive.expired()) return;
            stored_.end_record_job();
            if (closing_) return;
            if (!*result) {
                // Nothing of the source may be recorded without the mark: stop caching (the
                // origin's chunks already written are still recorded) and keep serving. No
                // verdict will come for an object not cached: its readers stop holding back.
                stored_.object().content_check = cache::ContentCheck::Unverified;
                stop_caching(result->error());
                notify_progress();
            } else {
                stored_.object().content_check = (*result)->content_check;
                maybe_stage();
                maybe_commit();
            }
            if (idle()) registry_.release(*this);
        });
}

void Fetch::fallback_failed(std::string why) {
    metrics().fallback_refusals.inc();
    spdlog::warn("fetch {}: fallback source {} not used ({} bytes taken from it): {}", key_,
                 fallback_.url(), fallback_.bytes(), why);
    retire_transfer();
    if (fallback_.next_source(request_.url, registry_.config().fallback_source,
                              fallback_.origin_end(), {}, uv_now(loop()))) {
        spdlog::warn("fetch {}: asking fallback source {} from byte {}", key_, fallback_.url(),
                     cursor_.next());
        start_fallback();
        return;
    }
    // As the origin's failure would have ended it: never ObjectChanged, whatever the source
    // said -- a mirror that differs is no evidence against the stored chunks.
    fail(fallback_.origin_end(),
         fallback_.origin_detail() + "; no fallback source could continue it (" + why + ")");
}

}  // namespace proxy
