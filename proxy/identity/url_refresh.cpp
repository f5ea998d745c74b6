#include "proxy/identity/url_refresh.h"

#include "policy/content_digest.h"

namespace proxy {

std::string_view to_string(RefreshOutcome outcome) {
    switch (outcome) {
        case RefreshOutcome::Refreshed:
            return "refreshed";
        case RefreshOutcome::NotRedirected:
            return "the origin did not redirect";
        case RefreshOutcome::ContentChanged:
            return "the redirect announces other content";
        case RefreshOutcome::Failed:
            return "the request failed";
    }
    return "failed";
}

UrlRefresh::UrlRefresh(CurlMulti& multi, const RememberedRedirect& redirect,
                       uint64_t high_water_mark, Done done)
    : redirect_(redirect),
      done_(std::move(done)),
      transfer_(std::make_unique<UpstreamTransfer>(multi, *this, high_water_mark)) {}

bool UrlRefresh::start() {
    return transfer_->start(redirect_.request);
}

void UrlRefresh::on_upstream_head(int status, std::string_view, const policy::HeaderList& headers) {
    RefreshResult r;
    auto location = policy::find_header(headers, "location");
    auto absolute = location ? RedirectMemory::absolute_location(redirect_.request.url, *location)
                             : std::nullopt;
    if (status < 300 || status > 399 || !absolute) {
        r.outcome = RefreshOutcome::NotRedirected;
        r.detail = "status " + std::to_string(status) + (absolute ? "" : " without a Location");
        result_ = std::move(r);
        return;
    }
    // The content must be the one whose bytes the fill holds: same digest and size where both
    // the remembered redirect and this one announce them.
    auto sha = policy::announced_sha256(headers);
    auto size = policy::announced_size(headers);
    if ((sha && redirect_.sha256 && *sha != *redirect_.sha256) ||
        (size && redirect_.size && *size != *redirect_.size)) {
        r.outcome = RefreshOutcome::ContentChanged;
        r.detail = "sha256 " + redirect_.sha256.value_or("?") + " -> " + sha.value_or("?") +
                   ", size " + std::to_string(redirect_.size.value_or(0)) + " -> " +
                   std::to_string(size.value_or(0));
        result_ = std::move(r);
        return;
    }
    r.outcome = RefreshOutcome::Refreshed;
    r.location = std::move(*absolute);
    r.detail = "status " + std::to_string(status);
    result_ = std::move(r);
}

UpstreamSink::BodyAction UrlRefresh::on_upstream_body(const char*, size_t) {
    return BodyAction::Abort;  // a redirect's body is of no use
}

void UrlRefresh::on_upstream_done(const UpstreamResult& result) {
    RefreshResult r;
    if (result_) {
        r = std::move(*result_);  // an aborted body after a usable head is fine
    } else {
        r.outcome = RefreshOutcome::Failed;
        r.detail = std::string(to_string(result.error)) + ": " + result.message;
    }
    result_.reset();
    auto done = std::move(done_);
    if (done) done(r);
}

}  // namespace proxy
