#include "proxy/loop/curl_multi.h"

#include <spdlog/spdlog.h>

namespace proxy {

// One per socket curl asked us to watch; freed in its close callback (libuv rule).
struct CurlMulti::SocketContext {
    uv_poll_t poll;
    curl_socket_t fd;
    CurlMulti* owner;
};

CurlMulti::CurlMulti(uv_loop_t* loop) : loop_(loop), multi_(curl_multi_init()) {
    uv_timer_init(loop_, &timer_);
    timer_.data = this;
    curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &CurlMulti::socket_cb);
    curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &CurlMulti::timer_cb);
    curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
    // Keep idle upstream connections for reuse across client requests.
    curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, 256L);
}

CurlMulti::~CurlMulti() = default;

CURLMcode CurlMulti::add(CURL* easy) {
    return curl_multi_add_handle(multi_, easy);
}

void CurlMulti::remove(CURL* easy) {
    curl_multi_remove_handle(multi_, easy);
}

void CurlMulti::kick() {
    if (!closing_) uv_timer_start(&timer_, &CurlMulti::on_timeout_cb, 0, 0);
}

void CurlMulti::close() {
    closing_ = true;
    // curl_multi_cleanup closes cached connections and calls socket_cb(REMOVE) for each, which
    // closes their poll handles; the timer goes last and frees us.
    curl_multi_cleanup(multi_);
    multi_ = nullptr;
    uv_timer_stop(&timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), &CurlMulti::on_timer_closed_cb);
}

void CurlMulti::on_timer_closed_cb(uv_handle_t* handle) noexcept {
    delete static_cast<CurlMulti*>(handle->data);
}

int CurlMulti::socket_cb(CURL*, curl_socket_t s, int what, void* userp, void* socketp) noexcept {
    auto* self = static_cast<CurlMulti*>(userp);
    auto* ctx = static_cast<SocketContext*>(socketp);
    if (what == CURL_POLL_REMOVE) {
        if (ctx) {
            uv_poll_stop(&ctx->poll);
            uv_close(reinterpret_cast<uv_handle_t*>(&ctx->poll),
                     [](uv_handle_t* h) { delete static_cast<SocketContext*>(h->data); });
            if (self->multi_) curl_multi_assign(self->multi_, s, nullptr);
        }
        return 0;
    }
    if (!ctx) {
        ctx = new SocketContext{};
        ctx->fd = s;
        ctx->owner = self;
        if (uv_poll_init_socket(self->loop_, &ctx->poll, s) != 0) {
            spdlog::error("curl: cannot watch socket {}", s);
            delete ctx;
            return -1;
        }
        ctx->poll.data = ctx;
        curl_multi_assign(self->multi_, s, ctx);
    }
    int events = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) events |= UV_READABLE;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) events |= UV_WRITABLE;
    uv_poll_start(&ctx->poll, events, &CurlMulti::on_poll_cb);
    return 0;
}

int CurlMulti::timer_cb(CURLM*, long timeout_ms, void* userp) noexcept {
    auto* self = static_cast<CurlMulti*>(userp);
    if (self->closing_) return 0;
    if (timeout_ms < 0)
        uv_timer_stop(&self->timer_);
    else
        uv_timer_start(&self->timer_, &CurlMulti::on_timeout_cb, static_cast<uint64_t>(timeout_ms),
                       0);
    return 0;
}

void CurlMulti::on_timeout_cb(uv_timer_t* timer) noexcept {
    auto* self = static_cast<CurlMulti*>(timer->data);
    if (!self->multi_) return;
    self->socket_action(CURL_SOCKET_TIMEOUT, 0);
}

void CurlMulti::on_poll_cb(uv_poll_t* poll, int status, int events) noexcept {
    auto* ctx = static_cast<SocketContext*>(poll->data);
    CurlMulti* self = ctx->owner;
    if (!self->multi_) return;
    int flags = 0;
    if (status < 0) flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    // `ctx` may be freed by curl's socket callback inside this call; use only copies after it.
    self->socket_action(ctx->fd, flags);
}

void CurlMulti::socket_action(curl_socket_t fd, int flags) {
    int running = 0;
    in_action_ = true;
    curl_multi_socket_action(multi_, fd, flags, &running);
    in_action_ = false;
    // Hooks first: bytes batched during the action go out before a completion's final bytes.
    run_hooks();
    drain_completions();
}

void CurlMulti::pause(CURL* easy, int mask) {
    bool nested = in_action_;
    in_action_ = true;
    curl_easy_pause(easy, mask);
    in_action_ = nested;
    if (!nested) run_hooks();
    kick();
}

void CurlMulti::run_hooks() {
    std::vector<AfterActionHook*> hooks;
    hooks.swap(hooks_);
    for (auto* hook : hooks)
        hook->on_after_curl_action();
}

void CurlMulti::drain_completions() {
    CURLMsg* msg = nullptr;
    int pending = 0;
    while (multi_ && (msg = curl_multi_info_read(multi_, &pending))) {
        if (msg->msg != CURLMSG_DONE) continue;
        CURL* easy = msg->easy_handle;
        CURLcode result = msg->data.result;
        CurlTransfer* owner = nullptr;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, &owner);
        curl_multi_remove_handle(multi_, easy);
        if (owner) owner->on_transfer_done(result);
    }
}

}  // namespace proxy
