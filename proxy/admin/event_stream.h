// EventStream: the admin endpoint's GET /events, a Server-Sent Events stream (WHATWG HTML
// §9.2) of StatusSnapshot documents, which the status page (GET /) and `dlproxyctl watch` read.
//
// An admin connection whose request was GET /events is handed over (adopt): the stream writes
// the response head, `retry: 2000`, and one `event: snapshot` frame with everything the rings
// hold; then, once per tick (1 s), one `event: update` frame with the live state and only the
// events and downloads recorded since the previous tick. Each frame's `id:` is the last sequence
// number it includes; a reader drops entries whose seq it has already seen (a new stream's
// snapshot may overlap the next update).
//
// A stream never holds the loop or grows without bound: every frame is one uv_write owning its
// bytes, and a stream with more than kMaxQueuedBytes not yet taken by the kernel (a stalled or
// slow reader) is closed; at most kMaxStreams are open (adopt refuses more). The snapshot is
// rendered once per tick whatever the number of streams, and not at all when there are none.
//
// Thread: the loop thread. Lifetime: construct before uv_run; stop() closes every stream and
// the timer (AdminServer::stop calls it); the EventStream must outlive the loop run.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>

namespace proxy {

class StatusSnapshot;

namespace detail {

// One SSE frame: `event: NAME`, `id: ID` (when id != 0), one `data: ` line per line of `data`
// (CR, LF and CRLF all split lines, so a line break in the data cannot end the frame early),
// and the blank line that dispatches it.
std::string sse_frame(std::string_view event, std::string_view data, uint64_t id);

}  // namespace detail

class EventStream {
  public:
    static constexpr size_t kMaxStreams = 16;
    static constexpr size_t kMaxQueuedBytes = 256 << 10;
    static constexpr uint64_t kTickMs = 1000;

    EventStream(uv_loop_t* loop, const StatusSnapshot& snapshot, uint64_t tick_ms = kTickMs);
    ~EventStream();
    EventStream(const EventStream&) = delete;
    EventStream& operator=(const EventStream&) = delete;

    // Takes over an accepted connection whose request has been read: duplicates `fd` (the caller
    // then closes its own handle, which leaves the socket open), writes the head and the first
    // snapshot. True: the connection is the stream's (if libuv cannot use the copy, it is closed
    // and logged). False — nothing written, the caller answers instead — past kMaxStreams, after
    // stop(), or when dup() fails.
    bool adopt(uv_os_fd_t fd);

    // Closes every stream and the timer. Idempotent.
    void stop();

    size_t streams() const { return streams_.size(); }
    // Frames dropped with their stream because its reader fell behind (for tests and logs).
    uint64_t slow_closes() const { return slow_closes_; }

  private:
    struct Stream;
    struct WriteReq;

    static void tick_cb(uv_timer_t* timer) noexcept;
    static void alloc_cb(uv_handle_t* h, size_t, uv_buf_t* buf) noexcept;
    static void read_cb(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) noexcept;
    static void write_cb(uv_write_t* req, int status) noexcept;
    static void close_cb(uv_handle_t* h) noexcept;

    void on_tick();
    void send(Stream& stream, std::string bytes);
    void close_stream(Stream& stream);

    uv_loop_t* loop_;
    const StatusSnapshot& snapshot_;
    uint64_t tick_ms_;
    uv_timer_t timer_{};
    bool stopped_ = false;
    uint64_t sent_seq_ = 0;  // the ticks so far sent every entry up to this seq
    uint64_t slow_closes_ = 0;
    std::unordered_set<Stream*> streams_;
};

}  // namespace proxy
