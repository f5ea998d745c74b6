// AdminServer on a real loop: a libuv client on loopback port 0 sends raw bytes and reads until
// the server closes. Every test ends with every handle closed and uv_loop_close() == 0.
#include "proxy/admin/admin_server.h"

#include <doctest/doctest.h>

#include "proxy/admin/admin_api.h"

namespace {

// Connects to `port`, writes `request`, collects everything until EOF, then stops `server`.
class RawClient {
  public:
    RawClient(uv_loop_t* loop, proxy::AdminServer& server, std::string request, bool half_close)
        : server_(server), request_(std::move(request)), half_close_(half_close) {
        uv_tcp_init(loop, &tcp_);
        tcp_.data = connect_.data = write_.data = shutdown_.data = this;
    }

    void connect(int port) {
        sockaddr_in addr{};
        uv_ip4_addr("127.0.0.1", port, &addr);
        REQUIRE(uv_tcp_connect(&connect_, &tcp_, reinterpret_cast<sockaddr*>(&addr), &on_connect) ==
                0);
    }
    const std::string& response() const { return response_; }

  private:
    static void on_connect(uv_connect_t* req, int status) {
        auto* c = static_cast<RawClient*>(req->data);
        REQUIRE(status == 0);
        uv_buf_t buf = uv_buf_init(c->request_.data(), static_cast<unsigned>(c->request_.size()));
        uv_write(&c->write_, reinterpret_cast<uv_stream_t*>(&c->tcp_), &buf, 1,
                 [](uv_write_t*, int) {});
        // Like `printf 'GET ...' | nc -N`: no more bytes from this side.
        if (c->half_close_)
            uv_shutdown(&c->shutdown_, reinterpret_cast<uv_stream_t*>(&c->tcp_),
                        [](uv_shutdown_t*, int) {});
        uv_read_start(
            reinterpret_cast<uv_stream_t*>(&c->tcp_),
            [](uv_handle_t* h, size_t, uv_buf_t* b) {
                auto* self = static_cast<RawClient*>(h->data);
                *b = uv_buf_init(self->buf_, sizeof self->buf_);
            },
            &on_read);
    }
    static void on_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
        auto* c = static_cast<RawClient*>(s->data);
        if (n > 0) c->response_.append(buf->base, static_cast<size_t>(n));
        if (n >= 0) return;
        uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp_), nullptr);
        c->server_.stop();
    }

    proxy::AdminServer& server_;
    std::string request_;
    bool half_close_;
    uv_tcp_t tcp_{};
    uv_connect_t connect_{};
    uv_write_t write_{};
    uv_shutdown_t shutdown_{};
    char buf_[65536];
    std::string response_;
};

int port_of(const proxy::AdminServer& server) {
    auto address = server.listen_address();
    return std::stoi(address.substr(address.rfind(':') + 1));
}

// Runs one request against a fresh AdminServer (no cache) and returns the raw response.
// Many fills: a /status answer of several MiB, more than a socket buffer takes at once.
class ManyFills : public proxy::StatusProvider {
  public:
    std::vector<proxy::FillStatus> inflight_fills() const override {
        return std::vector<proxy::FillStatus>(
            40000, {"http://origin.test/" + std::string(80, 'x'), 1, 2, 3, 1, "transferring", "k",
                    0, 1, std::nullopt, "", "", ""});
    }
};

std::string exchange(std::string request, bool half_close = false,
                     const proxy::StatusProvider& fills = proxy::NoFills()) {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    std::string response;
    {
        proxy::Config config;
        proxy::Metrics metrics;
        proxy::AdminApi api(config, metrics, nullptr, fills, "", 0);
        proxy::AdminServer server(&loop, {"127.0.0.1", 0, false}, api);
        server.start();
        CHECK(port_of(server) > 0);
        RawClient client(&loop, server, std::move(request), half_close);
        client.connect(port_of(server));
        uv_run(&loop, UV_RUN_DEFAULT);
        response = client.response();
    }
    CHECK(uv_loop_close(&loop) == 0);
    return response;
}

}  // namespace

TEST_CASE("proxy/admin_server: GET /metrics over TCP, answered and closed") {
    auto r = exchange("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(r.starts_with("HTTP/1.1 200 OK\r\n"));
    CHECK(r.find("Content-Type: text/plain; version=0.0.4") != std::string::npos);
    CHECK(r.find("Connection: close\r\n") != std::string::npos);
    CHECK(r.find("dlproxy_requests_total{result=\"HIT\"} 0\n") != std::string::npos);
}

TEST_CASE("proxy/admin_server: a client that half-closes after its request still gets the answer") {
    auto r = exchange("GET /status HTTP/1.1\r\nHost: x\r\n\r\n", /*half_close=*/true, ManyFills());
    REQUIRE(r.starts_with("HTTP/1.1 200 OK\r\n"));
    auto head_end = r.find("\r\n\r\n");
    auto length_at = r.find("Content-Length: ") + 16;
    CHECK(r.size() - head_end - 4 == std::stoul(r.substr(length_at)));
    CHECK(r.size() > (4u << 20));
}

TEST_CASE("proxy/admin_server: HEAD gets the head without the body") {
    auto r = exchange("HEAD /status HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(r.starts_with("HTTP/1.1 200 OK\r\n"));
    CHECK(r.ends_with("\r\n\r\n"));
}

TEST_CASE("proxy/admin_server: a malformed request is a 400") {
    auto r = exchange("BLAH\r\n\r\n");
    CHECK(r.starts_with("HTTP/1.1 400 Bad Request\r\n"));
    CHECK(r.find("malformed request") != std::string::npos);
}

TEST_CASE("proxy/admin_server: a folded header line is a 400 (the client's request parser)") {
    auto r = exchange("GET /metrics HTTP/1.1\r\nHost: x\r\nX-A: one\r\n two\r\n\r\n");
    CHECK(r.starts_with("HTTP/1.1 400 Bad Request\r\n"));
    CHECK(r.find("obs-fold") != std::string::npos);
}

TEST_CASE("proxy/admin_server: an oversized body or head is a 413") {
    auto r = exchange("POST /cache/purge HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" +
                      std::string(1000, '{'));
    CHECK(r.starts_with("HTTP/1.1 413 "));
    r = exchange("GET /metrics HTTP/1.1\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n");
    CHECK(r.starts_with("HTTP/1.1 413 "));
    r = exchange(
        "POST /cache/purge HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        "11000\r\n" +
        std::string(0x11000, ' ') + "\r\n0\r\n\r\n");
    CHECK(r.starts_with("HTTP/1.1 413 "));
}

TEST_CASE("proxy/admin_server: the body reaches the API (cache routes without a cache: 503)") {
    auto r = exchange("POST /cache/purge HTTP/1.1\r\nContent-Length: 13\r\n\r\n{\"all\": true}");
    CHECK(r.starts_with("HTTP/1.1 503 "));
    CHECK(r.ends_with("no cache is open\n"));
}

TEST_CASE("proxy/admin_server: stop() with no connection lets the loop end") {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    {
        proxy::Config config;
        proxy::Metrics metrics;
        proxy::NoFills fills;
        proxy::AdminApi api(config, metrics, nullptr, fills, "", 0);
        proxy::AdminServer server(&loop, {"127.0.0.1", 0, false}, api);
        server.start();
        server.stop();
        server.stop();  // idempotent
        uv_run(&loop, UV_RUN_DEFAULT);
    }
    CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("proxy/admin_server: a port in use is a clear start-up error") {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    {
        proxy::Config config;
        proxy::Metrics metrics;
        proxy::NoFills fills;
        proxy::AdminApi api(config, metrics, nullptr, fills, "", 0);
        proxy::AdminServer first(&loop, {"127.0.0.1", 0, false}, api);
        first.start();
        proxy::AdminServer second(&loop,
                                  {"127.0.0.1", static_cast<uint16_t>(port_of(first)), false}, api);
        CHECK_THROWS_WITH_AS(second.start(), doctest::Contains("admin endpoint"),
                             std::runtime_error);
        first.stop();
        second.stop();
        uv_run(&loop, UV_RUN_DEFAULT);
    }
    CHECK(uv_loop_close(&loop) == 0);
}
