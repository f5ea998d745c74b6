// AdminServer: the admin HTTP listener (--admin-listen, default 127.0.0.1:3129) on the proxy's
// libuv loop. It accepts connections, parses one HTTP/1.1 request per connection with llhttp,
// hands it to AdminApi (admin_api.h: the routes and their JSON) and answers with
// `Connection: close`. Admin traffic is a scrape or a command now and then; one request per
// connection keeps each connection's life short and its state trivial.
//
// Limits: request head 16 KiB and body 64 KiB (413 past either), and a 10 s deadline for the
// whole request (the connection is then closed without an answer).
//
// Thread: the loop thread. Lifetime: construct before uv_run, start(), and stop() when the proxy
// shuts down (SIGTERM); stop() closes the listener and every open admin connection, so the loop
// can end. The AdminServer must outlive the loop run (its listener handle is a member), and the
// AdminApi it was given must outlive the AdminServer.
#pragma once

#include <uv.h>

#include <string>
#include <unordered_set>

#include "policy/request_target.h"

namespace proxy {

class AdminApi;
class AdminConnection;
class EventStream;

class AdminServer {
  public:
    AdminServer(uv_loop_t* loop, const policy::HostPort& listen, AdminApi& api);
    ~AdminServer();
    AdminServer(const AdminServer&) = delete;
    AdminServer& operator=(const AdminServer&) = delete;

    // Binds and listens, then logs `admin endpoint on ADDR:PORT` (port 0 → the chosen port) even
    // when the log level hides info. Throws std::runtime_error with a clear message on failure.
    void start();

    // Stops listening and closes every admin connection. Idempotent.
    void stop();

    // The bound address, e.g. "127.0.0.1:3129".
    std::string listen_address() const;

    // GET /events connections are handed to `events` (admin/event_stream.h); without one they
    // are answered 503. stop() stops it too. It must outlive the AdminServer.
    void set_event_stream(EventStream* events) { events_ = events; }
    // Called by a connection whose request was an allowed GET /events: true when `tcp` was
    // handed over (the connection then just closes its own handle).
    bool start_event_stream(uv_tcp_t& tcp);

    AdminApi& api() { return api_; }
    uv_loop_t* loop() { return loop_; }
    // Called by a connection from its close callback, just before it deletes itself.
    void on_connection_closed(AdminConnection* conn) { connections_.erase(conn); }

  private:
    static void on_connection_cb(uv_stream_t* listener, int status) noexcept;
    void on_connection(int status);

    uv_loop_t* loop_;
    policy::HostPort listen_;
    AdminApi& api_;
    EventStream* events_ = nullptr;
    uv_tcp_t listener_{};
    bool listening_ = false;
    bool stopped_ = false;
    std::unordered_set<AdminConnection*> connections_;
};

}  // namespace proxy
