// Fetch: content identity — the end-to-end sha256 check of a complete object and its
// quarantine, the refresh of an expired signed URL mid-fill, and the offline answer of a resolve
// URL (docs/model-hosts.md).
#include <spdlog/spdlog.h>

#include "policy/content_digest.h"
#include "policy/intercept.h"
#include "policy/request_target.h"
#include "proxy/admin/metrics.h"
#include "proxy/fetch/fetch.h"
#include "proxy/fetch/fetch_registry.h"
#include "proxy/identity/content_verifier.h"
#include "proxy/loop/clock.h"

namespace proxy {

namespace {

std::string_view how_hashed(const ContentVerdict& verdict) {
    return verdict.read_back ? "read back" : "hashed while filling";
}

}  // namespace

std::string_view Fetch::content_state() const {
    if (identity_.verifying()) return "verifying";
    return cache::to_string(object().content_check);
}

bool Fetch::wants_sha256() const {
    return registry_.config().content_sha256_all || !identity_.announced_sha256().empty() ||
           content_pending();
}

// Runs once a fill (or a hit on an object never hashed) has every chunk recorded.
void Fetch::verify_stored_content() {
    if (identity_.verifying() || !object().complete() || !stored_.recorded() ||
        !pipeline_.caching())
        return;
    if (!object().sha256.empty()) return;  // judged before
    // Without an announced digest the hash could only be shown, never compared: each read of
    // a chunk is checked against its XXH3 all the same (content_sha256 = "all" hashes anyway).
    if (!wants_sha256()) return;
    identity_.set_verifying(true);
    // Inline when the fill hashed every chunk in order as it wrote them; else read back.
    std::shared_ptr<Sha256> hashed = identity_.fill_sha256().take_covering(object().chunk_count());
    if (!hashed)
        spdlog::debug("fetch {}: sha256 by read-back: {}", key_,
                      to_string(identity_.fill_sha256().gap()));
    std::weak_ptr<bool> alive = alive_;
    verify_content(
        loop(), store(), object(), identity_.announced_sha256(), std::move(hashed),
        [this, alive](ContentVerdict verdict) {
            metrics().sha256_bytes.add(verdict.bytes);
            // The inline hash counted its CPU time as it went (hash_written).
            if (verdict.read_back) {
                metrics().sha256_readback_bytes.add(verdict.bytes);
                metrics().sha256_cpu_us.add(static_cast<uint64_t>(verdict.cpu_seconds * 1e6));
            }
            if (alive.expired()) return;
            on_content_verdict(std::move(verdict));
        });
}

void Fetch::on_content_verdict(ContentVerdict verdict) {
    if (!verdict.record) {
        identity_.set_verifying(false);
        spdlog::warn("fetch {}: cannot compute the sha256 of the stored object: {}", key_,
                     cache::to_string(verdict.record.error()));
        // Readers of a mixed-source object held its last byte for this verdict: without one,
        // they are closed short (their clients retry; the record stays MixedPending, so the
        // next fetch of it tries the verdict again).
        if (content_pending()) close_listeners_short("its sha256 could not be computed");
        if (!closing_ && idle()) registry_.release(*this);
        return;
    }
    if (verdict.record->generation == object().generation) stored_.object() = *verdict.record;
    switch (verdict.check) {
        case cache::ContentCheck::Verified:
            metrics().sha256_verified.inc();
            spdlog::info("fetch {}: sha256 verified: {} ({} bytes, {}, {:.3f} s CPU)", key_,
                         verdict.sha256, verdict.bytes, how_hashed(verdict), verdict.cpu_seconds);
            status_events().checked(request_.url, verdict.bytes, true, verdict.sha256);
            break;
        case cache::ContentCheck::MixedPending:  // not a verdict: verify_content never gives it
        case cache::ContentCheck::Unverified:
            metrics().sha256_unverified.inc();
            spdlog::info("fetch {}: sha256 {} (no digest announced to compare with; {})", key_,
                         verdict.sha256, how_hashed(verdict));
            status_events().checked(request_.url, verdict.bytes, false, verdict.sha256);
            break;
        case cache::ContentCheck::Mismatch:
            metrics().sha256_mismatches.inc();
            if (identity_.same_mismatch_again(verdict.sha256)) {
                // The origin sent the same bytes twice: its announcement is what is wrong (some
                // Civitai hashes are) or its content is. The cache never serves them, but the
                // clients reading them get them as the origin sent them, as without dlproxy;
                // closing them short would fail every download of the file.
                spdlog::error(
                    "fetch {}: SHA256 MISMATCH for {} again: the origin announced {} but sent "
                    "the same {} bytes hashing to {} twice; quarantined, never served as a hit; "
                    "its readers get the origin's bytes as sent",
                    key_, request_.url, identity_.announced_sha256(), verdict.bytes,
                    verdict.sha256);
                status_events().gave_up(request_.url, verdict.bytes, "sha256 mismatch");
                break;
            }
            spdlog::error(
                "fetch {}: SHA256 MISMATCH for {}: the origin announced {} but the {} bytes "
                "received hash to {} ({}); quarantined, never served as a hit; {}",
                key_, request_.url, identity_.announced_sha256(), verdict.bytes, verdict.sha256,
                how_hashed(verdict),
                identity_.refetched() ? "already fetched again once, giving up"
                                      : "fetching it once more");
            status_events().gave_up(request_.url, verdict.bytes, "sha256 mismatch");
            refetch_after_mismatch(verdict.sha256);
            break;
    }
    identity_.set_verifying(false);
    if (!closing_) notify_progress();  // readers holding a mixed object's last byte go on
    if (!closing_ && idle()) registry_.release(*this);
}

// A client still reading the quarantined bytes is closed short: a truncated download is
// retried, a complete-looking wrong one is not. Then, once, the object is fetched again from
// byte 0 in the background (start() treats a quarantined record as absent and begin_object
// replaces it).
void Fetch::close_listeners_short(std::string_view why) {
    auto listeners = listeners_;
    listeners_.clear();
    for (auto* l : listeners)
        l->on_fetch_failed(*this, why);
}

void Fetch::refetch_after_mismatch(const std::string& computed) {
    close_listeners_short("sha256 mismatch: the object is quarantined");
    if (identity_.refetched() || closing_) return;
    identity_.mark_refetched(computed);
    outcome_.restart();
    stored_.forget();
    pipeline_.forget_memory();
    reads_.forget();
    engine_->reset_outage();
    start(wall_seconds());
}

bool Fetch::try_refresh_url(int status) {
    if (status != 400 && status != 403 && status != 410) return false;
    if (!identity_.may_refresh()) return false;
    auto location_key = registry_.redirects().key_of(request_.url);
    const RememberedRedirect* redirect =
        location_key ? registry_.redirects().by_location(*location_key) : nullptr;
    if (!redirect) return false;
    retire_transfer();
    spdlog::info(
        "fetch {}: resume at byte {} refused with status {} (an expired signed URL); asking {} "
        "for a fresh one",
        key_, cursor_.next(), status, redirect->request.url);
    std::weak_ptr<bool> alive = alive_;
    identity_.begin_refresh(std::make_unique<UrlRefresh>(
                                registry_.curl(), *redirect, registry_.config().high_water_mark,
                                [this, alive](const RefreshResult& result) {
                                    if (alive.expired()) return;
                                    on_url_refreshed(result);
                                }),
                            uv_now(loop()));
    // Started from the deferred call: this runs inside a curl callback (libcurl refuses
    // curl_multi_add_handle there).
    deferred_.post();
    return true;
}

void Fetch::on_url_refreshed(const RefreshResult& result) {
    // We are inside its callback: freed from the deferred call.
    const uint64_t took_ms = identity_.end_refresh(uv_now(loop()));
    deferred_.post();
    if (outcome_.state() == State::Failed || closing_) return;
    if (result.outcome != RefreshOutcome::Refreshed) {
        metrics().url_refresh_failures.inc();
        fail(FetchEnd::ResumeRefused, "the signed URL expired and no fresh one was had: " +
                                          std::string(to_string(result.outcome)) + " (" +
                                          result.detail + ")");
        return;
    }
    auto old_key = registry_.redirects().key_of(request_.url).value_or(std::string());
    registry_.redirects().moved(old_key, result.location);
    request_.url = result.location;
    engine_->request().url = result.location;
    metrics().url_refreshes.inc();
    spdlog::info("fetch {}: fresh signed URL in {} ms; resuming at byte {}", key_, took_ms,
                 cursor_.next());
    engine_->resume_now();  // from cursor_.next() with Range + If-Range
}

bool Fetch::try_offline_answer(std::string_view why) {
    const OfflineAnswers mode = registry_.config().offline_answers;
    if (mode == OfflineAnswers::Off || outcome_.state() == State::Ready || listeners_.empty())
        return false;
    auto target = policy::parse_absolute_target(request_.url, true);
    if (!target) return false;
    if (mode == OfflineAnswers::ModelHosts &&
        !policy::should_intercept(policy::default_intercept_patterns(), target->host))
        return false;
    auto facts = registry_.redirects().facts(key_);
    if (!facts || facts->sha256.empty()) return false;
    // Stored by content (a signed Location), else under the Location's own key.
    auto found = store().lookup(policy::content_key(facts->sha256));
    if ((!found || !*found) && !facts->location_key.empty())
        found = store().lookup(facts->location_key);
    if (!found || !*found) return false;
    const cache::ObjectInfo& object = **found;
    // Only content proven to be what the URL names: complete and sha256-verified.
    if (!object.complete() || object.content_check != cache::ContentCheck::Verified ||
        object.sha256 != facts->sha256)
        return false;
    auto map = store().present_chunks(object);
    if (!map || !map->all_present()) return false;
    retire_transfer();
    stored_.answer_from(object, *map);
    // What the redirect would have told the client about the file (huggingface_hub reads these
    // from a resolve answer; a 200 carries them just as well).
    auto add = [&](std::string_view name, std::string value) {
        if (!policy::find_header(stored_.object().headers, name))
            stored_.object().headers.push_back({std::string(name), std::move(value)});
    };
    add("X-Linked-Etag", "\"" + facts->sha256 + "\"");
    if (facts->size != 0) add("X-Linked-Size", std::to_string(facts->size));
    if (!facts->commit.empty()) add("X-Repo-Commit", facts->commit);
    metrics().offline_answers.inc();
    spdlog::warn(
        "fetch {}: the origin cannot be reached ({}); answering from the cache: sha256:{} "
        "({} bytes, verified)",
        key_, why, facts->sha256, stored_.object().complete_length);
    become_ready(CacheResult::Hit);
    return true;
}

}  // namespace proxy
