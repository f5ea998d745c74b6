#include "proxy/identity/hit_authorization.h"

#include "policy/hit_authorization.h"

namespace proxy {

HitAuthorization::HitAuthorization(uv_loop_t* loop, CurlMulti& curl,
                                   HitAuthorizationListener& listener, UpstreamRequest request,
                                   std::optional<policy::Validator> validator,
                                   uint64_t complete_length, uint64_t high_water_mark)
    : loop_(loop),
      curl_(curl),
      listener_(&listener),
      request_(std::move(request)),
      validator_(std::move(validator)),
      complete_length_(complete_length),
      high_water_mark_(high_water_mark) {
    // The check asks about the stored object, not about what the client asked of it.
    for (auto name : {"range", "if-range", "if-none-match", "if-modified-since", "if-match",
                      "if-unmodified-since"})
        policy::remove_header(request_.headers, name);
    for (auto& field : policy::authorization_headers(validator_))
        request_.headers.push_back(std::move(field));
}

HitAuthorization::~HitAuthorization() {
    if (transfer_) transfer_->detach();
}

void HitAuthorization::start() {
    started_ms_ = uv_now(loop_);
    if (curl_.in_action()) {  // libcurl refuses new handles inside its callbacks
        curl_.after_action(this);
        return;
    }
    on_after_curl_action();
}

void HitAuthorization::on_after_curl_action() {
    if (!listener_ || transfer_ || decided_) return;
    transfer_ = std::make_unique<UpstreamTransfer>(curl_, *this, high_water_mark_);
    if (transfer_->start(request_)) return;
    transfer_.reset();
    unreachable("could not start the upstream request");
}

void HitAuthorization::unreachable(std::string_view why) {
    decided_ = true;
    auto* listener = listener_;
    listener_ = nullptr;
    elapsed_ms_ = uv_now(loop_) - started_ms_;
    listener->on_hit_authorization(HitAuthorizationListener::Outcome::Unreachable, nullptr, 0, "",
                                   {}, why);
}

void HitAuthorization::cancel() {
    listener_ = nullptr;
    if (transfer_) transfer_->detach();
}

void HitAuthorization::on_upstream_head(int status, std::string_view reason,
                                        const policy::HeaderList& headers) {
    if (!listener_ || decided_) return;
    decided_ = true;
    elapsed_ms_ = uv_now(loop_) - started_ms_;
    auto verdict = policy::judge_authorization(validator_, complete_length_, status, headers);
    using O = HitAuthorizationListener::Outcome;
    auto* listener = listener_;
    switch (verdict.action) {
        case policy::Authorization::Serve:
            listener->on_hit_authorization(O::Serve, nullptr, status, reason, headers,
                                           policy::to_string(verdict.reason));
            return;
        case policy::Authorization::HandOver:
            listener_ = nullptr;  // the transfer and its callbacks now belong to the client
            listener->on_hit_authorization(O::HandOver, std::move(transfer_), status, reason,
                                           headers, policy::to_string(verdict.reason));
            return;
        case policy::Authorization::Refetch:
            cancel();
            listener->on_hit_authorization(O::Refetch, nullptr, status, reason, headers,
                                           policy::to_string(verdict.reason));
            return;
    }
}

// The body of a 304 is empty and a 206's is the one byte asked for: read and dropped, so the
// connection can be reused.
UpstreamSink::BodyAction HitAuthorization::on_upstream_body(const char*, size_t) {
    return BodyAction::Accept;
}

void HitAuthorization::on_upstream_done(const UpstreamResult& result) {
    auto transfer = std::move(transfer_);  // freed here: the handle has left the multi
    if (!listener_ || decided_) return;
    unreachable(result.ok() ? "no response head" : result.message);
}

}  // namespace proxy
