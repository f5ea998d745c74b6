// AdminApi: the admin endpoint's routes, as a function from one parsed request to one response.
// AdminServer (admin_server.h) owns the sockets and the HTTP parsing; everything here is plain
// values, so the routing, authorisation and JSON shapes are unit-tested without a loop.
//
// Contract (docs/cli.md has examples):
//   GET  /             200 text/html — the status page (admin/status_page.h, docs/status-page.md)
//   GET  /events       200 text/event-stream — AdminResponse::event_stream set: AdminServer hands
//                      the connection to EventStream (admin/event_stream.h)
//   GET  /metrics      200 text/plain; version=0.0.4 — Metrics::render_prometheus()
//   GET  /status       200 JSON {version, uptime_seconds, config{...}, cache{...}|null,
//                      inflight_fills[{url, bytes_done, total|null, rate_bytes_per_s, attempts,
//                      state}]}
//   POST /cache/evict  JSON {"url": U} | {"id": HEX32} → 200 {"evicted": 1, "bytes_freed": N};
//                      404 when nothing is cached under it
//   POST /cache/purge  JSON {"all": true} | {"older_than_seconds": N} | {"partial": true} (the
//                      last two may be combined: both must hold) → 200 {"purged": N,
//                      "bytes_freed": B}
//   POST /cache/gc     (no body) → 200 {"objects_removed", "bytes_freed", "orphan_files_removed",
//                      "bytes_present"}
// Errors are one line of text/plain: 400 bad JSON or fields, 401 missing or wrong bearer token
// (with WWW-Authenticate: Bearer), 403 peer outside the allow list, 404 unknown path or object,
// 405 wrong method (with Allow), 413 request too large (AdminServer), 500 store failure,
// 503 cache operations without a cache, or too many event streams.
//
// The token: `Authorization: Bearer T` on every route. A browser cannot add that field to a page
// load or an EventSource, so the two read-only views (GET / and GET /events) also accept
// `?token=T` in the target; the page passes it on to /events. No route that changes anything
// accepts a token in the URL.
//
// Thread: the loop thread. The routes that write to the cache (evict, purge, gc) are not run
// there: route() validates them and returns the blocking part as AdminReply::blocking, which
// AdminConnection runs on a worker (LMDB write commits and unlinks must not block the loop).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "policy/address_list.h"
#include "policy/header_list.h"
#include "proxy/admin/cache_admin.h"
#include "proxy/admin/metrics.h"
#include "proxy/config/config.h"
#include "proxy/fetch/fill_status.h"

namespace proxy {

struct AdminRequest {
    std::string method;         // "GET", "POST", ...
    std::string target;         // origin-form, e.g. "/metrics?x=1" (the query is ignored)
    std::string authorization;  // the Authorization field value, "" when absent
    std::string body;
    std::vector<uint8_t> peer;  // the client's address: 4 bytes (IPv4) or 16 (IPv6)
};

struct AdminResponse {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
    policy::HeaderList headers;  // extra fields (Allow, WWW-Authenticate)
    bool event_stream = false;   // GET /events allowed: the connection becomes a stream

    // A one-line text/plain error body ("not found: /x\n").
    static AdminResponse error(int status, std::string message);
};

// What route() answers: a response now, or, for a cache write, the work that makes it.
struct AdminReply {
    AdminReply(AdminResponse r) : response(std::move(r)) {}  // implicit: most routes answer now
    explicit AdminReply(std::function<AdminResponse()> work) : blocking(std::move(work)) {}

    AdminResponse response;  // the answer, when `blocking` is empty
    // Blocks (LMDB writes, unlinks): run it on a worker thread and answer with what it returns.
    // It owns everything it uses but the Store (which outlives the loop) and may throw.
    std::function<AdminResponse()> blocking;
};

class AdminApi {
  public:
    // `cache` may be null (no store): the cache routes then answer 503. `token` empty = no
    // authentication. `start_time`: seconds since the epoch when dlproxy started. The references
    // must outlive the AdminApi.
    AdminApi(const Config& config, Metrics& metrics, CacheAdmin* cache,
             const StatusProvider& status, std::string token, double start_time);

    // The addresses actually bound (port 0 resolved), shown by /status instead of the configured
    // ones once known.
    void set_listen_addresses(std::string proxy, std::string admin);

    // `now`: seconds since the epoch. On the loop thread.
    AdminReply route(const AdminRequest& request, double now);
    // route() with any blocking part run right here: for callers off the loop (tests).
    AdminResponse handle(const AdminRequest& request, double now);

  private:
    AdminResponse metrics_page();
    AdminResponse status_page(double now) const;
    AdminReply evict(const std::string& body);
    AdminReply purge(const std::string& body, double now);
    AdminReply gc();
    bool authorized(const AdminRequest& request, std::string_view path) const;

    const Config& config_;
    Metrics& metrics_;
    CacheAdmin* cache_;
    const StatusProvider& status_;
    std::string token_;
    double start_time_;
    std::string bound_listen_, bound_admin_;
};

// The version string of this build (DLPROXY_VERSION, from project() in meson.build).
const char* dlproxy_version();

}  // namespace proxy
