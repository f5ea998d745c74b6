#include "proxy/http1/response_writer.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace {

using proxy::http1::Framing;
using proxy::http1::ResponseWriter;

// Records every write; `deferrable` plays ClientConnection inside a curl socket action.
struct Output final : proxy::http1::ResponseOutput {
    std::vector<std::string> writes;
    bool deferrable = false;
    int scheduled = 0;

    void write_out(std::string bytes) override {
        CHECK_FALSE(bytes.empty());
        writes.push_back(std::move(bytes));
    }
    bool flush_deferrable() override { return deferrable; }
    void schedule_flush() override { ++scheduled; }

    std::string all() const {
        std::string out;
        for (const auto& w : writes)
            out += w;
        return out;
    }
};

bool has_line(const std::string& head, const std::string& line) {
    return head.find("\r\n" + line + "\r\n") != std::string::npos;
}

}  // namespace

TEST_CASE("proxy/http1/response_writer: framing, Via and Connection of a relayed head") {
    struct Case {
        std::string name;
        std::string method;
        bool http10;
        bool keep_alive;
        int status;
        policy::HeaderList origin;
        Framing framing;
        std::vector<std::string> lines;   // in the head
        std::vector<std::string> absent;  // not in the head
        bool stays_open;
    };
    const policy::HeaderList length{{"Content-Length", "5"}, {"ETag", "\"a\""}};
    const policy::HeaderList chunked{{"Transfer-Encoding", "chunked"}};
    const policy::HeaderList both{{"Content-Length", "5"}, {"Transfer-Encoding", "chunked"}};
    const policy::HeaderList close_delimited{{"Content-Type", "text/plain"}};
    const Case cases[] = {
        {"length kept",
         "GET",
         false,
         true,
         200,
         length,
         Framing::Length,
         {"Content-Length: 5", "ETag: \"a\"", "Via: 1.1 dlproxy"},
         {"Connection: close"},
         true},
        {"chunked re-framed",
         "GET",
         false,
         true,
         200,
         chunked,
         Framing::Chunked,
         {"Transfer-Encoding: chunked"},
         {"Content-Length: 5"},
         true},
        {"TE wins over CL",
         "GET",
         false,
         true,
         200,
         both,
         Framing::Chunked,
         {"Transfer-Encoding: chunked"},
         {"Content-Length: 5"},
         true},
        {"origin read to close",
         "GET",
         false,
         true,
         200,
         close_delimited,
         Framing::Chunked,
         {"Transfer-Encoding: chunked"},
         {},
         true},
        {"HTTP/1.0 client, no length",
         "GET",
         true,
         true,
         200,
         chunked,
         Framing::Close,
         {"Connection: close"},
         {"Transfer-Encoding: chunked", "Connection: keep-alive"},
         false},
        {"HTTP/1.0 keep-alive with length",
         "GET",
         true,
         true,
         200,
         length,
         Framing::Length,
         {"Connection: keep-alive", "Content-Length: 5"},
         {},
         true},
        {"HTTP/1.0 without keep-alive",
         "GET",
         true,
         false,
         200,
         length,
         Framing::Length,
         {"Connection: close"},
         {},
         false},
        {"client asked to close",
         "GET",
         false,
         false,
         200,
         length,
         Framing::Length,
         {"Connection: close"},
         {},
         false},
        {"HEAD has no body",
         "HEAD",
         false,
         true,
         200,
         chunked,
         Framing::None,
         {},
         {"Transfer-Encoding: chunked"},
         true},
        {"304 has no body",
         "GET",
         false,
         true,
         304,
         close_delimited,
         Framing::None,
         {},
         {"Transfer-Encoding: chunked"},
         true},
        {"204 has no body", "DELETE", false, true, 204, {}, Framing::None, {}, {}, true},
        {"hop-by-hop dropped",
         "GET",
         false,
         true,
         200,
         {{"Content-Length", "5"}, {"Connection", "x-a"}, {"X-A", "1"}, {"Keep-Alive", "t=5"}},
         Framing::Length,
         {"Content-Length: 5"},
         {"X-A: 1", "Keep-Alive: t=5"},
         true},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        Output out;
        ResponseWriter writer(out);
        writer.start(c.method, c.http10, c.keep_alive);
        writer.send_relayed_head(c.status, "", c.origin);
        REQUIRE(out.writes.size() == 1);
        const std::string& head = out.writes[0];
        CHECK(head.starts_with("HTTP/1.1 " + std::to_string(c.status) + " "));
        CHECK(head.ends_with("\r\n\r\n"));
        CHECK(writer.framing() == c.framing);
        CHECK(has_line(head, "Via: 1.1 dlproxy"));
        for (const auto& line : c.lines)
            CHECK_MESSAGE(has_line(head, line), line);
        for (const auto& line : c.absent)
            CHECK_MESSAGE(!has_line(head, line), line);
        CHECK(writer.keep_alive() == c.stays_open);
    }
}

TEST_CASE("proxy/http1/response_writer: stored heads are framed by their length") {
    Output out;
    ResponseWriter writer(out);
    writer.start("GET", true, true);
    writer.send_stored_head(200, {{"Content-Length", "3"}});
    CHECK(writer.framing() == Framing::Length);
    CHECK(out.writes.at(0) ==
          "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nVia: 1.1 dlproxy\r\n"
          "Connection: keep-alive\r\n\r\n");
    writer.send_body("abc", 3);
    writer.finish_body();
    CHECK(out.all().ends_with("\r\n\r\nabc"));

    writer.start("GET", false, true);
    writer.send_stored_head(304, {{"ETag", "\"a\""}});
    CHECK(writer.framing() == Framing::None);
    CHECK(writer.keep_alive());
}

TEST_CASE("proxy/http1/response_writer: chunks and the last chunk") {
    Output out;
    ResponseWriter writer(out);
    writer.start("GET", false, true);
    writer.send_relayed_head(200, "Fine", {{"Transfer-Encoding", "chunked"}});
    CHECK(out.writes.at(0).starts_with("HTTP/1.1 200 Fine\r\n"));
    writer.send_body("hello", 5);
    writer.send_body(" world!!!!!!!!!!!", 17);
    writer.finish_body();
    REQUIRE(out.writes.size() == 4);
    CHECK(out.writes[1] == "5\r\nhello\r\n");
    CHECK(out.writes[2] == "11\r\n world!!!!!!!!!!!\r\n");
    CHECK(out.writes[3] == "0\r\n\r\n");
}

TEST_CASE("proxy/http1/response_writer: body bytes batched while a flush is coming") {
    Output out;
    ResponseWriter writer(out);
    writer.start("GET", false, true);
    writer.send_relayed_head(200, "", {{"Transfer-Encoding", "chunked"}});
    out.deferrable = true;
    for (int i = 0; i < 4; ++i)
        writer.send_body("abcd", 4);
    CHECK(out.writes.size() == 1);  // only the head
    CHECK(out.scheduled == 1);      // one flush asked for, not four
    CHECK(writer.batched() == 16);
    writer.flush();
    REQUIRE(out.writes.size() == 2);
    CHECK(out.writes[1] == "10\r\nabcdabcdabcdabcd\r\n");
    CHECK(writer.batched() == 0);

    // A full batch goes at once, flush or no flush coming.
    const std::string big(ResponseWriter::kBatchSize, 'x');
    writer.send_body(big.data(), big.size());
    CHECK(out.writes.size() == 3);
    CHECK(out.writes[2].size() == big.size() + 9);  // "40000\r\n" ... "\r\n"

    // A head (or the last chunk) never overtakes batched bytes.
    writer.send_body("tail", 4);
    writer.finish_body();
    REQUIRE(out.writes.size() == 5);
    CHECK(out.writes[3] == "4\r\ntail\r\n");
    CHECK(out.writes[4] == "0\r\n\r\n");
    writer.send_body("zz", 2);
    writer.start("GET", false, true);
    writer.send_stored_head(200, {{"Content-Length", "0"}});
    CHECK(out.writes.at(5) == "2\r\nzz\r\n");
    CHECK(out.writes.at(6).starts_with("HTTP/1.1 200 OK\r\n"));

    // Not inside a batch: every piece is written straight away, unframed for a length.
    out.deferrable = false;
    out.writes.clear();
    writer.send_body("ab", 2);
    writer.send_body("cd", 2);
    CHECK(out.writes == std::vector<std::string>{"ab", "cd"});
}

TEST_CASE("proxy/http1/response_writer: chunk-size lines") {
    using proxy::http1::detail::chunk_header;
    CHECK(chunk_header(0) == "0\r\n");
    CHECK(chunk_header(9) == "9\r\n");
    CHECK(chunk_header(15) == "f\r\n");
    CHECK(chunk_header(16) == "10\r\n");
    CHECK(chunk_header(0x40000) == "40000\r\n");
    CHECK(chunk_header(SIZE_MAX) == "ffffffffffffffff\r\n");
}
