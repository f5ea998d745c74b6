// HitAuthorization: the one conditional request that lets a signed URL read a cached object that
// another URL filled (policy/hit_authorization.h, docs/model-hosts.md "Authorisation").
//
// It sends the client's own request upstream with its Range and conditional fields replaced by
// policy::authorization_headers(), judges the head, and tells its listener once:
//   Serve        the origin accepted this URL for the stored object: serve the hit;
//   HandOver     the origin's answer (401, 403, a 5xx, a full 200...) is the client's; the
//                transfer carrying it comes along, its head already parsed;
//   Refetch      accepted for another representation: send the client's request as it came;
//   Unreachable  no answer at all (refused, DNS, TLS, timeout). dlproxy then fails closed: a
//                URL nobody could check never gets cached bytes.
//
// Thread: the loop thread. Lifetime: owned by a CachedResponse; cancel() stops every callback.
// The listener is called from inside curl callbacks: it must not destroy this object there.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <uv.h>

#include "policy/cacheability.h"
#include "proxy/loop/curl_multi.h"
#include "proxy/upstream/upstream_transfer.h"

namespace proxy {

class HitAuthorizationListener {
  public:
    enum class Outcome { Serve, HandOver, Refetch, Unreachable };
    // `transfer` only with HandOver; `detail` a reason for logs (or the curl error).
    virtual void on_hit_authorization(Outcome outcome, std::unique_ptr<UpstreamTransfer> transfer,
                                      int status, std::string_view reason,
                                      const policy::HeaderList& headers,
                                      std::string_view detail) = 0;

  protected:
    ~HitAuthorizationListener() = default;
};

class HitAuthorization final : public UpstreamSink, public AfterActionHook {
  public:
    // `request`: the client's request as it would go upstream; `validator` and `complete_length`
    // describe the stored object.
    HitAuthorization(uv_loop_t* loop, CurlMulti& curl, HitAuthorizationListener& listener,
                     UpstreamRequest request, std::optional<policy::Validator> validator,
                     uint64_t complete_length, uint64_t high_water_mark);
    ~HitAuthorization();
    HitAuthorization(const HitAuthorization&) = delete;
    HitAuthorization& operator=(const HitAuthorization&) = delete;

    // Starts the check; inside a curl callback (a fill's head made the object ready) it starts
    // once the socket action has returned. A transfer that cannot start is Unreachable.
    void start();
    // No more callbacks; a running transfer is dropped with this object.
    void cancel();
    // Milliseconds from start() to the origin's head (the latency the check adds to a hit).
    uint64_t elapsed_ms() const { return elapsed_ms_; }

    void on_upstream_head(int status, std::string_view reason,
                          const policy::HeaderList& headers) override;
    BodyAction on_upstream_body(const char* data, size_t size) override;
    void on_upstream_done(const UpstreamResult& result) override;
    void on_after_curl_action() override;

  private:
    void unreachable(std::string_view why);

    uv_loop_t* loop_;
    CurlMulti& curl_;
    HitAuthorizationListener* listener_;
    UpstreamRequest request_;
    std::optional<policy::Validator> validator_;
    uint64_t complete_length_;
    uint64_t high_water_mark_;
    std::unique_ptr<UpstreamTransfer> transfer_;
    uint64_t started_ms_ = 0;
    uint64_t elapsed_ms_ = 0;
    bool decided_ = false;
};

}  // namespace proxy
