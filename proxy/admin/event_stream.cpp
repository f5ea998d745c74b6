#include "proxy/admin/event_stream.h"

#include <spdlog/spdlog.h>

#include <unistd.h>

#include <array>
#include <vector>

#include "proxy/admin/status_snapshot.h"
#include "proxy/loop/clock.h"

namespace proxy {

// One open stream. Freed in close_cb, after libuv has cancelled its pending writes.
struct EventStream::Stream {
    EventStream* owner = nullptr;
    uv_tcp_t tcp{};
    size_t queued = 0;  // bytes handed to uv_write whose callbacks have not run
    bool closing = false;
    std::array<char, 512> read_buf{};
};

// A write request owns its bytes until its callback runs.
struct EventStream::WriteReq {
    uv_write_t req{};
    std::string bytes;
    Stream* stream = nullptr;
};

namespace {

constexpr std::string_view kHead =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/event-stream; charset=utf-8\r\n"
    "Cache-Control: no-store\r\n"
    "Connection: close\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "\r\n"
    "retry: 2000\n\n";

}  // namespace

std::string detail::sse_frame(std::string_view event, std::string_view data, uint64_t id) {
    std::string out;
    out.reserve(data.size() + event.size() + 32);
    if (!event.empty()) out.append("event: ").append(event).append("\n");
    if (id != 0) out.append("id: ").append(std::to_string(id)).append("\n");
    size_t begin = 0;
    while (true) {
        size_t end = data.find_first_of("\r\n", begin);
        out.append("data: ").append(data.substr(begin, end - begin)).append("\n");
        if (end == std::string_view::npos) break;
        // CRLF is one line break, not two.
        begin = end + (data[end] == '\r' && end + 1 < data.size() && data[end + 1] == '\n' ? 2 : 1);
    }
    out.append("\n");
    return out;
}

EventStream::EventStream(uv_loop_t* loop, const StatusSnapshot& snapshot, uint64_t tick_ms)
    : loop_(loop), snapshot_(snapshot), tick_ms_(tick_ms) {
    uv_timer_init(loop_, &timer_);
    timer_.data = this;
}

EventStream::~EventStream() = default;

bool EventStream::adopt(uv_os_fd_t fd) {
    if (stopped_ || streams_.size() >= kMaxStreams) return false;
    int copy = dup(fd);
    if (copy < 0) return false;
    auto* s = new Stream;
    s->owner = this;
    uv_tcp_init(loop_, &s->tcp);
    s->tcp.data = s;
    streams_.insert(s);
    int rc = uv_tcp_open(&s->tcp, copy);
    if (rc == 0) rc = uv_read_start(reinterpret_cast<uv_stream_t*>(&s->tcp), &alloc_cb, &read_cb);
    if (rc != 0) {
        spdlog::warn("admin /events: cannot take over the connection: {}", uv_strerror(rc));
        uv_os_fd_t owned;  // uv_tcp_open failed: the handle does not own the copy
        if (uv_fileno(reinterpret_cast<uv_handle_t*>(&s->tcp), &owned) != 0) ::close(copy);
        close_stream(*s);
        return true;  // the connection is gone either way; nothing for the caller to answer
    }
    std::string first(kHead);
    first +=
        detail::sse_frame("snapshot", snapshot_.render(0, wall_seconds_f()), snapshot_.last_seq());
    send(*s, std::move(first));
    if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&timer_)))
        uv_timer_start(&timer_, &tick_cb, tick_ms_, tick_ms_);
    return true;
}

void EventStream::stop() {
    if (stopped_) return;
    stopped_ = true;
    uv_timer_stop(&timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
    std::vector<Stream*> open(streams_.begin(), streams_.end());
    for (auto* s : open)
        close_stream(*s);
}

void EventStream::on_tick() {
    if (streams_.empty()) {
        uv_timer_stop(&timer_);  // started again by the next adopt
        return;
    }
    uint64_t after = sent_seq_;
    sent_seq_ = snapshot_.last_seq();
    std::string frame =
        detail::sse_frame("update", snapshot_.render(after, wall_seconds_f()), sent_seq_);
    std::vector<Stream*> open(streams_.begin(), streams_.end());
    for (auto* s : open)
        send(*s, frame);
}

void EventStream::send(Stream& s, std::string bytes) {
    if (s.closing) return;
    if (s.queued + bytes.size() > kMaxQueuedBytes) {
        ++slow_closes_;
        spdlog::info("admin /events: closing a stream whose reader fell {} bytes behind", s.queued);
        close_stream(s);
        return;
    }
    auto* w = new WriteReq;
    w->bytes = std::move(bytes);
    w->stream = &s;
    w->req.data = w;
    uv_buf_t buf = uv_buf_init(w->bytes.data(), static_cast<unsigned>(w->bytes.size()));
    int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&s.tcp), &buf, 1, &write_cb);
    if (rc != 0) {
        delete w;
        close_stream(s);
        return;
    }
    s.queued += w->bytes.size();
}

void EventStream::close_stream(Stream& s) {
    if (s.closing) return;
    s.closing = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&s.tcp), &close_cb);
}

// --- callbacks -----------------------------------------------------------------------------------

void EventStream::tick_cb(uv_timer_t* timer) noexcept {
    static_cast<EventStream*>(timer->data)->on_tick();
}

void EventStream::alloc_cb(uv_handle_t* h, size_t, uv_buf_t* buf) noexcept {
    auto* s = static_cast<Stream*>(h->data);
    *buf = uv_buf_init(s->read_buf.data(), static_cast<unsigned>(s->read_buf.size()));
}

void EventStream::read_cb(uv_stream_t* stream, ssize_t n, const uv_buf_t*) noexcept {
    // A reader sends nothing after its request; bytes are dropped, EOF or an error ends it.
    auto* s = static_cast<Stream*>(stream->data);
    if (n < 0) s->owner->close_stream(*s);
}

void EventStream::write_cb(uv_write_t* req, int status) noexcept {
    auto* w = static_cast<WriteReq*>(req->data);
    Stream* s = w->stream;
    s->queued -= w->bytes.size();
    delete w;
    if (status < 0) s->owner->close_stream(*s);  // ECANCELED while closing: already closing
}

void EventStream::close_cb(uv_handle_t* h) noexcept {
    auto* s = static_cast<Stream*>(h->data);
    s->owner->streams_.erase(s);
    delete s;
}

}  // namespace proxy
