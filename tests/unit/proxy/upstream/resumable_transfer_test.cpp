// ResumableTransfer against a real origin on loopback: a tiny HTTP/1.1 server on a libuv socket
// in this binary (127.0.0.1, ephemeral port) whose answers each test scripts, request by request.
// It cuts bodies, stalls, ignores Range, changes the validator or the overlap byte; the engine
// must deliver one continuous, correct byte stream or end with the right reason. Every test
// ends with uv_loop_close() == 0: nothing the engine opened outlives it.
#include <curl/curl.h>
#include <doctest/doctest.h>
#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "policy/header_list.h"
#include "proxy/loop/curl_multi.h"
#include "proxy/upstream/resumable_transfer.h"

namespace proxy {
namespace {

constexpr size_t kSize = 200000;

std::string body_of(size_t size, char salt = 0) {
    std::string s(size, '\0');
    for (size_t i = 0; i < size; ++i)
        s[i] = static_cast<char>((i * 131 + i / 251 + salt) & 0xff);
    return s;
}

// One scripted answer: bytes to write, then close, hold the connection open (a stall), or keep
// it for the next request.
struct Answer {
    std::string bytes;
    enum class Then { Close, Hold } then = Then::Close;
};

struct Request {
    std::string head;  // request line and fields
    std::string header(std::string_view name) const {
        auto at = head.find(std::string("\r\n") + std::string(name) + ": ");
        if (at == std::string::npos) return {};
        at += name.size() + 4;
        return head.substr(at, head.find("\r\n", at) - at);
    }
};

std::string response(int status, const std::string& fields, std::string_view body) {
    std::string reason = status == 200 ? "OK" : status == 206 ? "Partial Content" : "Status";
    return "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\n" + fields +
           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

// 206 for `Range: bytes=a-b` of `body` with `etag`.
std::string partial(const Request& req, const std::string& body, const std::string& etag) {
    auto range = req.header("Range");
    size_t from = std::stoul(range.substr(6));
    size_t to = body.size() - 1;
    return response(206,
                    "ETag: " + etag + "\r\nContent-Range: bytes " + std::to_string(from) + "-" +
                        std::to_string(to) + "/" + std::to_string(body.size()) + "\r\n",
                    std::string_view(body).substr(from));
}

class Origin {
  public:
    using Script = std::function<Answer(const Request&, int index)>;

    Origin(uv_loop_t* loop, Script script) : script_(std::move(script)) {
        uv_tcp_init(loop, &listener_);
        listener_.data = this;
        sockaddr_in addr{};
        uv_ip4_addr("127.0.0.1", 0, &addr);
        REQUIRE(uv_tcp_bind(&listener_, reinterpret_cast<const sockaddr*>(&addr), 0) == 0);
        REQUIRE(uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 16, &on_connection) == 0);
        sockaddr_storage bound{};
        int len = sizeof bound;
        uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&bound), &len);
        port_ = ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    }
    void close() {
        uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
        for (auto* c : conns_)
            if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&c->tcp))) close_conn(c);
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/object"; }
    const std::vector<Request>& requests() const { return requests_; }

  private:
    struct Conn {
        uv_tcp_t tcp{};
        Origin* origin = nullptr;
        std::string in;
    };

    static void on_connection(uv_stream_t* server, int status) {
        auto* self = static_cast<Origin*>(server->data);
        if (status != 0) return;
        auto* c = new Conn;
        c->origin = self;
        uv_tcp_init(server->loop, &c->tcp);
        c->tcp.data = c;
        if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
            self->close_conn(c);
            return;
        }
        self->conns_.push_back(c);
        uv_read_start(
            reinterpret_cast<uv_stream_t*>(&c->tcp),
            [](uv_handle_t*, size_t n, uv_buf_t* buf) { *buf = uv_buf_init(new char[n], n); },
            &on_read);
    }
    static void on_read(uv_stream_t* stream, ssize_t n, const uv_buf_t* buf) {
        auto* c = static_cast<Conn*>(stream->data);
        if (n > 0) c->in.append(buf->base, static_cast<size_t>(n));
        delete[] buf->base;
        if (n < 0) {
            c->origin->close_conn(c);
            return;
        }
        auto end = c->in.find("\r\n\r\n");
        if (end == std::string::npos) return;
        Request req{c->in.substr(0, end + 2)};
        c->in.erase(0, end + 4);
        Origin* self = c->origin;
        self->requests_.push_back(req);
        Answer a = self->script_(req, static_cast<int>(self->requests_.size()) - 1);
        auto* w = new uv_write_t;
        auto* data = new std::string(std::move(a.bytes));
        w->data = data;
        uv_buf_t out = uv_buf_init(data->data(), static_cast<unsigned>(data->size()));
        uv_write(w, stream, &out, 1, [](uv_write_t* req, int) {
            delete static_cast<std::string*>(req->data);
            delete req;
        });
        if (a.then == Answer::Then::Close) {
            auto* s = new uv_shutdown_t;
            s->data = c;
            uv_shutdown(s, stream, [](uv_shutdown_t* req, int) { delete req; });
        }
    }
    void close_conn(Conn* c) {
        std::erase(conns_, c);
        uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp),
                 [](uv_handle_t* h) { delete static_cast<Conn*>(h->data); });
    }

    Script script_;
    uv_tcp_t listener_{};
    int port_ = 0;
    std::vector<Conn*> conns_;
    std::vector<Request> requests_;
};

// The owner: takes the first answer whole (a 200 with an ETag) as the run, then whatever the
// engine accepts; records the stream and the end.
struct Owner : ResumeOwner {
    std::string got;
    std::optional<ResumeOutcome> outcome;
    std::vector<int> heads;
    ResumableTransfer* engine = nullptr;

    HeadAnswer on_resume_head(const ResumeHead& head) override {
        heads.push_back(head.status);
        if (!head.partial) {
            if (head.status != 200) return HeadAnswer::Refuse;
            auto etag = policy::find_header(head.headers, "etag");
            ResumeRun run{0, kSize, std::nullopt, kSize};
            if (etag)
                run.validator =
                    policy::Validator{policy::Validator::Kind::ETag, std::string(*etag)};
            engine->set_run(run);
            return HeadAnswer::Accept;
        }
        return head.partial->action == policy::PartialAction::Reject ? HeadAnswer::Refuse
                                                                     : HeadAnswer::Accept;
    }
    UpstreamSink::BodyAction on_resume_body(const char* data, size_t size) override {
        got.append(data, size);
        return UpstreamSink::BodyAction::Accept;
    }
    void on_resume_end(const ResumeOutcome& o) override { outcome = o; }
};

struct Harness {
    uv_loop_t loop{};
    CurlMulti* curl = nullptr;
    std::unique_ptr<Origin> origin;
    Owner owner;
    std::unique_ptr<ResumableTransfer> engine;

    explicit Harness(Origin::Script script, uint64_t stall_ms = 4000) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        uv_loop_init(&loop);
        curl = new CurlMulti(&loop);
        origin = std::make_unique<Origin>(&loop, std::move(script));
        ResumeSettings s;
        s.retry.base_delay_ms = 10;
        s.retry.max_delay_ms = 50;
        s.retry.max_attempts = 5;
        s.stall.floor_ms = stall_ms;
        s.stall.ceiling_ms = stall_ms;
        s.tick_ms = 50;
        engine = std::make_unique<ResumableTransfer>(*curl, &loop, owner, s, "test");
        owner.engine = engine.get();
    }
    // Runs the download until it ends (or 10 s pass), then tears everything down.
    void run() {
        UpstreamRequest req;
        req.method = "GET";
        req.url = origin->url();
        engine->start(req);
        uv_timer_t guard;
        uv_timer_init(&loop, &guard);
        guard.data = this;
        uv_timer_start(
            &guard, [](uv_timer_t* t) { uv_stop(t->loop); }, 10000, 0);
        uv_idle_t check;
        uv_idle_init(&loop, &check);
        check.data = this;
        uv_idle_start(&check, [](uv_idle_t* i) {
            if (static_cast<Harness*>(i->data)->owner.outcome) uv_stop(i->loop);
        });
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_close(reinterpret_cast<uv_handle_t*>(&guard), nullptr);
        uv_close(reinterpret_cast<uv_handle_t*>(&check), nullptr);
        engine.reset();
        origin->close();
        curl->close();
        uv_run(&loop, UV_RUN_DEFAULT);
        CHECK(uv_loop_close(&loop) == 0);
    }
};

const std::string kBody = body_of(kSize);
const std::string kEtag = "\"v1\"";

std::string full(std::string_view body, const std::string& etag = kEtag) {
    return response(200, "ETag: " + etag + "\r\n", body);
}

// The full answer's head with only the first `n` body bytes.
std::string cut_at(size_t n) {
    std::string r = full(kBody);
    return r.substr(0, r.size() - kSize + n);
}

}  // namespace

TEST_CASE("a body cut mid-way is resumed from one byte early with If-Range") {
    Harness h([](const Request& req, int i) -> Answer {
        if (i == 0) return {cut_at(70001)};
        if (i == 1) return {partial(req, kBody, kEtag).substr(0, 200 + 50000)};  // cut again
        return {partial(req, kBody, kEtag)};
    });
    h.run();
    REQUIRE(h.owner.outcome);
    CHECK(h.owner.outcome->end == ResumeEnd::Complete);
    CHECK(h.owner.got == kBody);
    const auto& reqs = h.origin->requests();
    REQUIRE(reqs.size() == 3);
    CHECK(reqs[0].header("Range").empty());
    CHECK(reqs[1].header("Range") == "bytes=70000-199999");
    CHECK(reqs[1].header("If-Range") == kEtag);
    CHECK(reqs[2].header("Range").starts_with("bytes="));
}

TEST_CASE("a stalled body is resumed after the stall watch notices") {
    Harness h(
        [](const Request& req, int i) -> Answer {
            if (i == 0) return {cut_at(30000), Answer::Then::Hold};
            return {partial(req, kBody, kEtag)};
        },
        300);
    h.run();
    REQUIRE(h.owner.outcome);
    CHECK(h.owner.outcome->end == ResumeEnd::Complete);
    CHECK(h.owner.got == kBody);
    REQUIRE(h.origin->requests().size() == 2);
    CHECK(h.origin->requests()[1].header("Range") == "bytes=29999-199999");
}

TEST_CASE("a 200 to a resume is the same object: its held prefix is dropped") {
    Harness h([](const Request&, int i) -> Answer {
        if (i == 0) return {cut_at(123457)};
        return {full(kBody)};  // ignores Range
    });
    h.run();
    REQUIRE(h.owner.outcome);
    CHECK(h.owner.outcome->end == ResumeEnd::Complete);
    CHECK(h.owner.got == kBody);
    CHECK(h.owner.heads == std::vector<int>{200, 200});
}

TEST_CASE("a changed validator ends with ObjectChanged, nothing of the new object delivered") {
    Harness h([](const Request&, int i) -> Answer {
        if (i == 0) return {cut_at(50000)};
        return {full(body_of(kSize, 7), "\"v2\"")};  // If-Range failed: the new object
    });
    h.run();
    REQUIRE(h.owner.outcome);
    CHECK(h.owner.outcome->end == ResumeEnd::ObjectChanged);
    CHECK(h.owner.outcome->status == 200);
    CHECK(h.owner.got == kBody.substr(0, 50000));
}

TEST_CASE("an overlap byte that differs ends with ObjectChanged") {
    Harness h([](const Request& req, int i) -> Answer {
        if (i == 0) return {cut_at(50000)};
        return {partial(req, body_of(kSize, 1), kEtag)};  // same ETag, other bytes
    });
    h.run();
    REQUIRE(h.owner.outcome);
    CHECK(h.owner.outcome->end == ResumeEnd::ObjectChanged);
    CHECK(h.owner.got == kBody.substr(0, 50000));
}

TEST_CASE("a 503 with Retry-After is retried; an error answer to a resume is refused") {
    Harness h([](const Request&, int i) -> Answer {
        if (i == 0) return {response(503, "Retry-After: 0\r\n", "busy")};
        if (i == 1) return {cut_at(1000)};
        return {response(403, "", "expired")};
    });
    h.run();
    REQUIRE(h.owner.outcome);
    CHECK(h.owner.outcome->end == ResumeEnd::ResumeRefused);
    CHECK(h.owner.outcome->status == 403);
    CHECK(h.owner.got == kBody.substr(0, 1000));
    CHECK(h.origin->requests().size() == 3);
}

TEST_CASE("cuts past the attempts end with RetriesExhausted") {
    Harness h([](const Request& req, int i) -> Answer {
        if (i == 0) return {cut_at(10)};
        // The head and the overlap byte, cut: no progress, so the outage goes on.
        std::string r = partial(req, kBody, kEtag);
        return {r.substr(0, r.find("\r\n\r\n") + 5)};
    });
    h.run();
    REQUIRE(h.owner.outcome);
    CHECK(h.owner.outcome->end == ResumeEnd::RetriesExhausted);
    CHECK(h.origin->requests().size() == 5);  // max_attempts
    CHECK(h.owner.got == kBody.substr(0, 10));
}

}  // namespace proxy
