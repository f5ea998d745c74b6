#include "proxy/admin/event_stream.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <chrono>
#include <functional>

#include "proxy/admin/status_snapshot.h"

using proxy::detail::sse_frame;

TEST_CASE("proxy/admin/event_stream: an SSE frame has event, id, one data line per line") {
    CHECK(sse_frame("update", "{\"a\":1}", 7) == "event: update\nid: 7\ndata: {\"a\":1}\n\n");
    CHECK(sse_frame("", "x", 0) == "data: x\n\n");
    // A line break in the data must not end the frame early, whatever its kind.
    CHECK(sse_frame("e", "a\nb\r\nc\rd", 0) == "event: e\ndata: a\ndata: b\ndata: c\ndata: d\n\n");
    CHECK(sse_frame("e", "", 0) == "event: e\ndata: \n\n");
    CHECK(sse_frame("e", "a\n", 0) == "event: e\ndata: a\ndata: \n\n");
}

namespace {

// A connected pair of blocking TCP sockets on 127.0.0.1: {client, server side}.
std::pair<int, int> tcp_pair(int client_rcvbuf = 0) {
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(listen(listener, 1) == 0);
    socklen_t len = sizeof addr;
    getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
    int client = socket(AF_INET, SOCK_STREAM, 0);
    if (client_rcvbuf > 0)
        setsockopt(client, SOL_SOCKET, SO_RCVBUF, &client_rcvbuf, sizeof client_rcvbuf);
    REQUIRE(connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    int server = accept(listener, nullptr, nullptr);
    REQUIRE(server >= 0);
    close(listener);
    return {client, server};
}

class ManyFills : public proxy::StatusProvider {
  public:
    size_t count = 1;
    std::vector<proxy::FillStatus> inflight_fills() const override {
        std::vector<proxy::FillStatus> out(count);
        for (size_t i = 0; i < count; ++i)
            out[i].url = "http://h/" + std::string(200, 'a') + std::to_string(i);
        return out;
    }
};

// Runs the loop until `done` or 5 s pass.
bool run_until(uv_loop_t* loop, const std::function<bool()>& done) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        uv_run(loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
    return true;
}

struct Fixture {
    uv_loop_t loop{};
    proxy::Metrics metrics;
    ManyFills fills;
    proxy::StatusEvents ring;
    proxy::StatusSnapshot snapshot{metrics, nullptr, fills, ring, 1000, 0};
    Fixture() { uv_loop_init(&loop); }
    void finish(proxy::EventStream& stream) {
        stream.stop();
        uv_run(&loop, UV_RUN_DEFAULT);
        CHECK(uv_loop_close(&loop) == 0);
    }
};

}  // namespace

TEST_CASE("proxy/admin/event_stream: head, snapshot, then updates with only new events") {
    Fixture f;
    proxy::EventStream stream(&f.loop, f.snapshot, 20);
    f.ring.cut("http://h/old", 1, 1, 100, "before the stream");
    auto [client, server] = tcp_pair();
    REQUIRE(stream.adopt(server));
    close(server);  // the stream holds its own copy
    CHECK(stream.streams() == 1);

    std::string got;
    auto read_some = [&, client = client] {
        char buf[65536];
        ssize_t n = recv(client, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) got.append(buf, static_cast<size_t>(n));
    };
    REQUIRE(run_until(&f.loop, [&] {
        read_some();
        return got.find("event: snapshot") != std::string::npos && got.ends_with("\n\n");
    }));
    CHECK(got.starts_with("HTTP/1.1 200 OK\r\n"));
    CHECK(got.find("Content-Type: text/event-stream") != std::string::npos);
    CHECK(got.find("before the stream") != std::string::npos);
    got.clear();
    f.ring.cut("http://h/new", 2, 1, 100, "during the stream");
    REQUIRE(run_until(&f.loop, [&] {
        read_some();
        return got.find("during the stream") != std::string::npos && got.ends_with("\n\n");
    }));
    CHECK(got.find("event: update") != std::string::npos);
    // The first update may repeat what the snapshot had; later ones never do.
    got.clear();
    REQUIRE(run_until(&f.loop, [&] {
        read_some();
        return got.find("event: update") != std::string::npos && got.ends_with("\n\n");
    }));
    CHECK(got.find("before the stream") == std::string::npos);
    CHECK(got.find("during the stream") == std::string::npos);

    close(client);  // the reader goes away: the stream closes
    REQUIRE(run_until(&f.loop, [&] { return stream.streams() == 0; }));
    CHECK(stream.slow_closes() == 0);
    f.finish(stream);
}

TEST_CASE("proxy/admin/event_stream: a reader that stops reading is closed, memory bounded") {
    Fixture f;
    f.fills.count = 400;  // about 100 KB per frame
    proxy::EventStream stream(&f.loop, f.snapshot, 5);
    auto [client, server] = tcp_pair(4096);
    int small = 4096;
    setsockopt(server, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    REQUIRE(stream.adopt(server));
    close(server);
    // The client never reads: the kernel buffers fill, then the stream's queue does.
    REQUIRE(run_until(&f.loop, [&] { return stream.streams() == 0; }));
    CHECK(stream.slow_closes() == 1);
    close(client);
    f.finish(stream);
}

TEST_CASE("proxy/admin/event_stream: at most kMaxStreams; none after stop") {
    Fixture f;
    proxy::EventStream stream(&f.loop, f.snapshot, 1000);
    std::vector<int> clients;
    for (size_t i = 0; i < proxy::EventStream::kMaxStreams; ++i) {
        auto [client, server] = tcp_pair();
        CHECK(stream.adopt(server));
        close(server);
        clients.push_back(client);
    }
    auto [client, server] = tcp_pair();
    CHECK_FALSE(stream.adopt(server));
    stream.stop();
    CHECK_FALSE(stream.adopt(server));
    close(server);
    close(client);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    CHECK(stream.streams() == 0);
    for (int c : clients)
        close(c);
    CHECK(uv_loop_close(&f.loop) == 0);
}
