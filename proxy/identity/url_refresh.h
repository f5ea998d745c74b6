// UrlRefresh: asks the origin that redirected to a signed URL for a fresh one
// (docs/model-hosts.md "Expired signed URLs").
//
// A fill resuming from a signed CDN URL gets 403/400/410 once the signature has expired. The
// request that redirected the client there (remembered by RedirectMemory, with its own headers,
// Authorization included) is sent again as it was; its answer must be a redirect whose
// announced content (sha256, size) is the one remembered. The body of that answer is not read.
//
// Thread: the loop thread. Lifetime: owned by the Fetch that asked; `done` is called once, from
// the transfer's completion (inside a curl callback: the owner must not free this object there,
// only after the callback returns).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "proxy/identity/redirect_memory.h"
#include "proxy/upstream/upstream_transfer.h"

namespace proxy {

enum class RefreshOutcome {
    Refreshed,       // a fresh Location for the same content
    NotRedirected,   // the origin answered something else than a redirect
    ContentChanged,  // the redirect announces another sha256 or size
    Failed,          // the request failed (unreachable, reset, ...)
};
std::string_view to_string(RefreshOutcome outcome);

struct RefreshResult {
    RefreshOutcome outcome = RefreshOutcome::Failed;
    std::string location;  // absolute, when Refreshed
    std::string detail;    // for the log: status, digests, curl's message
};

class UrlRefresh final : public UpstreamSink {
  public:
    using Done = std::function<void(const RefreshResult&)>;

    UrlRefresh(CurlMulti& multi, const RememberedRedirect& redirect, uint64_t high_water_mark,
               Done done);
    // False when the request could not be started (done is not called).
    bool start();

    void on_upstream_head(int status, std::string_view reason,
                          const policy::HeaderList& headers) override;
    BodyAction on_upstream_body(const char* data, size_t size) override;
    void on_upstream_done(const UpstreamResult& result) override;

  private:
    RememberedRedirect redirect_;
    Done done_;
    std::unique_ptr<UpstreamTransfer> transfer_;
    std::optional<RefreshResult> result_;  // decided from the head
};

}  // namespace proxy
