// ContentIdentity: what one Fetch knows about the identity of its content, and the refresh of
// the signed URL it fetches from (docs/model-hosts.md; the flow is in fetch_identity.cpp).
//
// - The announced sha256: what the content must hash to (a content key's, a redirect's, or the
//   response's own Repr-Digest/Digest), 64 hex digits; empty when nothing announced one. The
//   first announcement wins.
// - The end-to-end check: the sha256 computed while the fill writes the object in order
//   (fill_sha256.h), whether the verdict job runs, and whether a mismatch already caused the one
//   refetch it is allowed.
// - A signed URL that expired mid-fill (a resume refused with 400/403/410) is renewed through
//   the request that redirected to it, at most kMaxUrlRefreshes times per fill. The UrlRefresh
//   is created inside a curl callback, so it starts from the fetch's deferred call
//   (take_due_start), and when it is done it is freed from the next deferred call (free_retired),
//   never inside its own callback.
//
// Thread: the loop thread. Owned by its Fetch.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "proxy/identity/fill_sha256.h"
#include "proxy/identity/url_refresh.h"

namespace proxy {

class ContentIdentity {
  public:
    // Enough for a fill that outlives several signature lifetimes; a host that keeps handing
    // out URLs that are refused at once is not asked forever.
    static constexpr uint32_t kMaxUrlRefreshes = 8;

    const std::string& announced_sha256() const { return announced_sha256_; }
    // Keeps `sha256` unless one was announced before.
    void announce(std::string sha256) {
        if (announced_sha256_.empty()) announced_sha256_ = std::move(sha256);
    }

    // The sha256 advanced by the fill's write jobs (Fetch::maybe_stage).
    FillSha256& fill_sha256() { return fill_sha256_; }

    bool verifying() const { return verifying_; }
    void set_verifying(bool verifying) { verifying_ = verifying; }
    bool refetched() const { return refetched_; }
    // This fill is the one refetch after a mismatch; `mismatched` is what the quarantined copy
    // hashed to (empty when unknown).
    void mark_refetched(std::string mismatched) {
        refetched_ = true;
        mismatched_sha256_ = std::move(mismatched);
    }
    // The refetch hashed to `sha256` as well: the origin sends these bytes every time, so its
    // announcement is what is wrong (or its content is), not the transfer.
    bool same_mismatch_again(const std::string& sha256) const {
        return refetched_ && !sha256.empty() && sha256 == mismatched_sha256_;
    }

    // No refresh runs and this fill has refreshes left.
    bool may_refresh() const { return !refresh_ && refreshes_ < kMaxUrlRefreshes; }
    bool refreshing() const { return refresh_ != nullptr; }
    // `refresh` begins at `now_ms`; it starts from the fetch's deferred call.
    void begin_refresh(std::unique_ptr<UrlRefresh> refresh, uint64_t now_ms) {
        ++refreshes_;
        started_ms_ = now_ms;
        refresh_ = std::move(refresh);
        start_due_ = true;
    }
    // From the deferred call: true once when a refresh was begun; start_refresh() follows.
    bool take_due_start() { return std::exchange(start_due_, false); }
    // Sends the refresh's request; false (and the refresh dropped) when it could not start.
    bool start_refresh() {
        if (refresh_ && !refresh_->start()) {
            refresh_.reset();
            return false;
        }
        return true;
    }
    // The refresh called back (inside its own callback): it is kept until free_retired().
    // Returns how long it took.
    uint64_t end_refresh(uint64_t now_ms) {
        retired_ = std::move(refresh_);
        return now_ms - started_ms_;
    }
    // From the deferred call: frees a refresh that has ended.
    void free_retired() { retired_.reset(); }

  private:
    std::string announced_sha256_;
    FillSha256 fill_sha256_;
    bool verifying_ = false;         // the sha256 job is running
    bool refetched_ = false;         // a mismatch already caused its one refetch
    std::string mismatched_sha256_;  // what the copy quarantined before the refetch hashed to
    uint32_t refreshes_ = 0;         // refreshes of an expired signed URL in this fill
    std::unique_ptr<UrlRefresh> refresh_;
    std::unique_ptr<UrlRefresh> retired_;  // freed from the deferred call, never in curl's call
    bool start_due_ = false;               // refresh_ starts from the deferred call
    uint64_t started_ms_ = 0;
};

}  // namespace proxy
