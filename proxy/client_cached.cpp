// ClientConnection: responses served through the cache (CachedResponse callbacks).
#include <spdlog/spdlog.h>

#include "proxy/client_connection.h"
#include "proxy/http_message.h"
#include "proxy/server.h"

namespace proxy {

namespace {

constexpr std::string_view kVia = "dlproxy";

}  // namespace

void ClientConnection::retire_cached() {
    if (!cached_) return;
    cached_->finish();
    finished_cached_.push_back(std::move(cached_));
}

void ClientConnection::send_cached_head(int status, const policy::HeaderList& stored) {
    if (closed_) return;
    uv_timer_stop(&timer_);
    status_ = status;
    head_sent_ = true;
    if (cached_) cache_result_ = std::string(cached_->result());
    policy::HeaderList headers = stored;
    framing_ = status == 304 ? Framing::None : Framing::Length;
    policy::add_via(headers, "1.1", kVia);
    if (!keep_alive_)
        headers.push_back({"Connection", "close"});
    else if (http10_)
        headers.push_back({"Connection", "keep-alive"});
    write(format_response_head(status, "", headers));
    if (status == 304) finish_cached();
}

void ClientConnection::send_cached_error(int status, std::string_view message,
                                         const std::string& content_range) {
    retire_cached();
    status_ = status;
    head_sent_ = true;
    std::string response = format_error_response(status, message, false);
    if (!content_range.empty()) {
        // Insert Content-Range after the status line (416 must carry "bytes */length").
        size_t eol = response.find("\r\n");
        response.insert(eol + 2, "Content-Range: " + content_range + "\r\n");
    }
    write(std::move(response));
    log_access("HIT");
    close_after_flush();
}

void ClientConnection::send_cached_body(const char* data, size_t size) {
    body_bytes_ += size;
    queue_body(data, size);
}

void ClientConnection::finish_cached() {
    flush_body();
    if (cached_) cache_result_ = std::string(cached_->result());
    retire_cached();
    finish_response();
}

void ClientConnection::on_cached_waiting(bool waiting) {
    if (waiting)
        arm_timer(server_.config().gap_budget);
    else
        uv_timer_stop(&timer_);
}

void ClientConnection::on_cached_failed(std::string_view why) {
    retire_cached();
    if (!head_sent_) {
        send_error(502, std::string("dlproxy: ") + std::string(why));
        return;
    }
    spdlog::warn("{} {}: closing the client short: {}", method_, url_, why);
    log_access("ABORTED");
    close_after_flush();
}

void ClientConnection::on_cache_bypass(std::unique_ptr<UpstreamTransfer> transfer, int status,
                                       std::string_view reason, const policy::HeaderList& headers) {
    retire_cached();
    if (transfer) {
        transfer_ = std::move(transfer);
        transfer_->set_sink(*this);
        on_upstream_head(status, reason, headers);
        return;
    }
    // Another client received the origin's answer: send our own request (from the timer: we
    // are inside a curl callback here).
    restart_pass_through_ = true;
    arm_timer(0);
}

}  // namespace proxy
