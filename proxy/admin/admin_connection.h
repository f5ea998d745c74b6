// AdminConnection: one connection to the admin endpoint (admin_server.h), from accept to close.
// Internal to AdminServer; a header of its own only to keep each file about one thing.
#pragma once

#include <uv.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "proxy/http1/request_parser.h"

namespace proxy {

class AdminServer;
struct AdminRequest;
struct AdminResponse;

// One admin connection: read one request, answer it, shut down the write side, wait for the
// client's EOF (so unread request bytes never turn our close into a reset that eats the answer),
// close. Heap-allocated; deletes itself once both of its handles have closed.
//
// close() is reached from: a read error or EOF (on_read), a parse error (on_read), the deadline
// timer (timeout_cb), a failed write or shutdown, and AdminServer::stop().
class AdminConnection final : private http1::RequestHandler {
  public:
    explicit AdminConnection(AdminServer& server);
    bool accept(uv_stream_t* listener);
    void close();

  private:
    static constexpr size_t kMaxHead = 16 << 10;
    static constexpr size_t kMaxBody = 64 << 10;
    static constexpr uint64_t kDeadlineMs = 10'000;
    static constexpr uint64_t kLingerMs = 2'000;

    static void alloc_cb(uv_handle_t* h, size_t, uv_buf_t* buf) noexcept;
    static void read_cb(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) noexcept;
    static void write_cb(uv_write_t* req, int status) noexcept;
    static void shutdown_cb(uv_shutdown_t* req, int status) noexcept;
    static void timeout_cb(uv_timer_t* t) noexcept;
    static void close_cb(uv_handle_t* h) noexcept;

    void on_read(ssize_t n, const uv_buf_t* buf);
    // http1::RequestHandler
    bool on_request_head(const http1::RequestHead& head) override;
    bool on_request_body(const char* data, size_t size) override;
    bool on_request_complete() override;
    // A cache write (AdminReply::blocking): `work` runs on a worker, the answer follows on the
    // loop unless the connection closed meanwhile.
    void run_blocking(std::function<AdminResponse()> work, const AdminRequest& request,
                      const std::string& from);
    // Logs the request's outcome and responds.
    void answer(const AdminRequest& request, const std::string& from,
                const AdminResponse& response);
    void respond(const AdminResponse& response, bool head_only);

    AdminServer& server_;
    uv_tcp_t tcp_{};
    uv_timer_t timer_{};
    uv_write_t write_req_{};
    uv_shutdown_t shutdown_req_{};
    http1::RequestParser parser_;
    std::array<char, 16 << 10> read_buf_{};
    std::string body_, out_;
    bool responded_ = false;  // an answer is being (or has been) written
    bool written_ = false;    // ... and handed to the kernel
    bool peer_eof_ = false;   // the client half-closed before that
    bool closing_ = false;
    bool working_ = false;  // a worker is preparing the answer (run_blocking)
    int open_handles_ = 0;
    // Expires when the connection is deleted: a worker's completion checks it (run_blocking).
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace proxy
