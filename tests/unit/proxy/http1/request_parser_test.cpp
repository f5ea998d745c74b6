#include "proxy/http1/request_parser.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace {

using proxy::http1::ParseStatus;
using proxy::http1::RequestError;
using proxy::http1::RequestHead;
using proxy::http1::RequestParser;

// Records what the parser reports; `refuse_head` makes on_request_head return false.
struct Recorder final : proxy::http1::RequestHandler {
    std::vector<RequestHead> heads;
    std::vector<std::string> bodies;
    int begun = 0;
    int completed = 0;
    bool refuse_head = false;

    void on_request_begin() override { ++begun; }
    bool on_request_head(const RequestHead& head) override {
        heads.push_back(head);
        bodies.emplace_back();
        return !refuse_head;
    }
    bool on_request_body(const char* data, size_t size) override {
        bodies.back().append(data, size);
        return true;
    }
    bool on_request_complete() override {
        ++completed;
        return true;
    }
};

struct Result {
    Recorder rec;
    ParseStatus status = ParseStatus::NeedMore;
    RequestError error = RequestError::None;
    std::string message;
    std::string pending;
};

// Feeds `reads` one after another; after each complete request resumes at once, as
// ClientConnection does once the response is done.
Result parse(const std::vector<std::string>& reads, RequestParser::Limits limits = {}) {
    Result r;
    RequestParser parser(r.rec, limits);
    for (const auto& read : reads) {
        r.status = parser.feed(read.data(), read.size());
        while (r.status == ParseStatus::Complete)
            r.status = parser.resume();
        if (r.status != ParseStatus::NeedMore) break;
    }
    r.error = parser.error();
    r.message = parser.error_message();
    r.pending = parser.take_pending();
    return r;
}

// The input cut in two at every byte.
std::vector<std::vector<std::string>> every_split(const std::string& input) {
    std::vector<std::vector<std::string>> out;
    for (size_t at = 0; at <= input.size(); ++at)
        out.push_back({input.substr(0, at), input.substr(at)});
    return out;
}

const std::string kGet =
    "GET http://example.com/x?y=1 HTTP/1.1\r\nHost: example.com\r\nX-Two:  a  b \t\r\n\r\n";

}  // namespace

TEST_CASE("proxy/http1/request_parser: a head is the same whatever the read boundaries") {
    struct Case {
        std::string input;
        std::string body;
    };
    const Case cases[] = {
        {kGet, ""},
        {"POST http://h/p HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", "hello"},
        {"PUT http://h/p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
         "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer-A: x\r\n\r\n",
         "hello world"},
    };
    for (const auto& c : cases) {
        for (const auto& reads : every_split(c.input)) {
            CAPTURE(reads[0].size());
            auto r = parse(reads);
            CHECK(r.status == ParseStatus::NeedMore);
            CHECK(r.error == RequestError::None);
            REQUIRE(r.rec.heads.size() == 1);
            CHECK(r.rec.completed == 1);
            CHECK(r.rec.bodies[0] == c.body);
        }
    }
    auto r = parse({kGet});
    const RequestHead& head = r.rec.heads.at(0);
    CHECK(head.method == "GET");
    CHECK(head.url == "http://example.com/x?y=1");
    REQUIRE(head.headers.size() == 2);
    CHECK(head.headers[0].name == "Host");
    CHECK(head.headers[1].name == "X-Two");
    CHECK(head.headers[1].value == "a  b");  // OWS trimmed, inner spaces kept
    CHECK_FALSE(head.http10());
    CHECK(head.keep_alive);
    CHECK_FALSE(head.chunked);
    CHECK_FALSE(head.has_content_length);
}

TEST_CASE("proxy/http1/request_parser: body framing in the head") {
    struct Case {
        std::string head;
        bool chunked;
        bool has_length;
        uint64_t length;
    };
    const Case cases[] = {
        {"GET http://h/ HTTP/1.1\r\n\r\n", false, false, 0},
        {"GET http://h/ HTTP/1.1\r\nContent-Length: 0\r\n\r\n", false, true, 0},
        {"POST http://h/ HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", false, true, 3},
        {"POST http://h/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", true, false, 0},
    };
    for (const auto& c : cases) {
        CAPTURE(c.head);
        auto r = parse({c.head});
        REQUIRE(r.rec.heads.size() == 1);
        CHECK(r.rec.heads[0].chunked == c.chunked);
        CHECK(r.rec.heads[0].has_content_length == c.has_length);
        CHECK(r.rec.heads[0].content_length == c.length);
    }
}

TEST_CASE("proxy/http1/request_parser: HTTP/1.0 and keep-alive") {
    struct Case {
        std::string input;
        bool http10;
        bool keep_alive;
    };
    const Case cases[] = {
        {"GET http://h/ HTTP/1.0\r\n\r\n", true, false},
        {"GET http://h/ HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true, true},
        {"GET http://h/ HTTP/1.1\r\n\r\n", false, true},
        {"GET http://h/ HTTP/1.1\r\nConnection: close\r\n\r\n", false, false},
    };
    for (const auto& c : cases) {
        CAPTURE(c.input);
        auto r = parse({c.input});
        REQUIRE(r.rec.heads.size() == 1);
        CHECK(r.rec.heads[0].http10() == c.http10);
        CHECK(r.rec.heads[0].keep_alive == c.keep_alive);
    }
}

TEST_CASE("proxy/http1/request_parser: pipelined requests wait until resume()") {
    const std::string second = "GET http://h/2 HTTP/1.1\r\n\r\n";
    const std::string third = "POST http://h/3 HTTP/1.1\r\nContent-Length: 2\r\n\r\nok";
    Recorder rec;
    RequestParser parser(rec, {});
    const std::string input = kGet + second + third.substr(0, 10);
    CHECK(parser.feed(input.data(), input.size()) == ParseStatus::Complete);
    CHECK(rec.heads.size() == 1);
    CHECK(parser.message_complete());
    // Bytes read while paused are kept behind the rest, not parsed.
    const std::string more = third.substr(10);
    CHECK(parser.feed(more.data(), more.size()) == ParseStatus::Complete);
    CHECK(rec.heads.size() == 1);

    CHECK(parser.resume() == ParseStatus::Complete);
    REQUIRE(rec.heads.size() == 2);
    CHECK(rec.heads[1].url == "http://h/2");
    CHECK(parser.head().url == "http://h/2");
    CHECK(parser.resume() == ParseStatus::Complete);
    REQUIRE(rec.heads.size() == 3);
    CHECK(rec.bodies[2] == "ok");
    CHECK(parser.resume() == ParseStatus::NeedMore);
    CHECK_FALSE(parser.message_complete());
    CHECK(parser.head().url.empty());
    CHECK(parser.head_bytes() == 0);
    CHECK(rec.completed == 3);

    // Cut anywhere, the same three requests come out.
    for (const auto& reads : every_split(kGet + second + third)) {
        CAPTURE(reads[0].size());
        auto r = parse(reads);
        CHECK(r.status == ParseStatus::NeedMore);
        REQUIRE(r.rec.heads.size() == 3);
        CHECK(r.rec.bodies[2] == "ok");
    }
}

TEST_CASE("proxy/http1/request_parser: CONNECT stops with the tunnel's first bytes kept") {
    const std::string input = "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n";
    const std::string tunnel = "\x16\x03\x01";
    for (const auto& reads : every_split(input + tunnel)) {
        const size_t at = reads[0].size();
        CAPTURE(at);
        auto r = parse(reads);
        REQUIRE(r.status == ParseStatus::Upgrade);
        CHECK(r.rec.heads.at(0).method == "CONNECT");
        CHECK(r.rec.heads.at(0).url == "example.com:443");
        // The bytes after the head in the read that ended it (later reads are not fed).
        const std::string expected = at < input.size()    ? tunnel
                                     : at == input.size() ? ""
                                                          : reads[0].substr(input.size());
        CHECK(r.pending == expected);
    }
    // reset(): an intercepted tunnel's requests start a fresh stream.
    Recorder rec;
    RequestParser parser(rec, {});
    CHECK(parser.feed(input.data(), input.size()) == ParseStatus::Upgrade);
    parser.reset();
    CHECK(parser.resume() == ParseStatus::NeedMore);
    const std::string inner = "GET /x HTTP/1.1\r\nHost: example.com\r\n\r\n";
    CHECK(parser.feed(inner.data(), inner.size()) == ParseStatus::Complete);
    CHECK(parser.head().url == "/x");
}

TEST_CASE("proxy/http1/request_parser: refusals and the status to answer") {
    struct Case {
        std::string name;
        std::string input;
        RequestError error;
        int status;
    };
    const std::string big(200, 'a');
    const Case cases[] = {
        {"bad method", "BLAH\r\n\r\n", RequestError::Malformed, 400},
        {"bare LF in chunk framing",
         "POST http://h/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
         RequestError::Malformed, 400},
        {"bytes after a chunk",
         "POST http://h/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
         RequestError::Malformed, 400},
        {"chunk size not hex",
         "POST http://h/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
         RequestError::Malformed, 400},
        {"chunk size overflow",
         "POST http://h/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\n",
         RequestError::Malformed, 400},
        {"Content-Length with chunked",
         "POST http://h/ HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
         RequestError::Malformed, 400},
        {"two Content-Lengths",
         "POST http://h/ HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
         RequestError::Malformed, 400},
        {"obs-fold", "GET http://h/ HTTP/1.1\r\nX-A: one\r\n two\r\n\r\n", RequestError::ObsFold,
         400},
        {"obs-fold with a tab", "GET http://h/ HTTP/1.1\r\nX-A: one\r\n\ttwo\r\n\r\n",
         RequestError::ObsFold, 400},
        {"folded Transfer-Encoding",
         "POST http://h/ HTTP/1.1\r\nTransfer-Encoding:\r\n chunked\r\n\r\n", RequestError::ObsFold,
         400},
        {"head over the limit", "GET http://h/ HTTP/1.1\r\nX-Big: " + big + "\r\n\r\n",
         RequestError::HeaderTooLarge, 431},
        {"many small fields over the limit",
         "GET http://h/ HTTP/1.1\r\n" + std::string(40, 'X') + ": 1\r\nA: " + std::string(40, 'b') +
             "\r\nB: " + std::string(40, 'c') + "\r\n\r\n",
         RequestError::HeaderTooLarge, 431},
        {"URL over its limit", "GET http://h/" + std::string(90, 'u') + " HTTP/1.1\r\n\r\n",
         RequestError::UriTooLong, 414},
    };
    const RequestParser::Limits limits{.max_head_bytes = 128, .max_url_length = 80};
    for (const auto& c : cases) {
        CAPTURE(c.name);
        // Whole, and cut at every byte: the fold check and the limits look across reads.
        for (const auto& reads : every_split(c.input)) {
            CAPTURE(reads[0].size());
            auto r = parse(reads, limits);
            CHECK(r.status == ParseStatus::Error);
            CHECK(r.error == c.error);
            CHECK(proxy::http1::status_code(r.error) == c.status);
            CHECK_FALSE(r.message.empty());
        }
    }
    auto r = parse({"GET http://h/ HTTP/1.1\r\nX-A: one\r\n two\r\n\r\n"});
    CHECK(r.message == "malformed request: folded header line (obs-fold)");
    r = parse({"BLAH\r\n\r\n"});
    CHECK(r.message.starts_with("malformed request: "));
    // Exactly at the limits is fine: URL 80 bytes, head 128.
    const std::string url = "http://h/" + std::string(71, 'u');
    const std::string exact = "GET " + url + " HTTP/1.1\r\nX: " + std::string(47, 'v') + "\r\n\r\n";
    r = parse({exact}, limits);
    CHECK(r.error == RequestError::None);
    REQUIRE(r.rec.heads.size() == 1);
    CHECK(r.rec.heads[0].url.size() == 80);
}

TEST_CASE("proxy/http1/request_parser: a handler's refusal stops the stream") {
    Recorder rec;
    rec.refuse_head = true;
    RequestParser parser(rec, {});
    const std::string input = kGet + kGet;
    CHECK(parser.feed(input.data(), input.size()) == ParseStatus::Error);
    CHECK(parser.error() == RequestError::Refused);
    CHECK(proxy::http1::status_code(parser.error()) == 400);
    CHECK(rec.heads.size() == 1);
    CHECK(rec.completed == 0);
    CHECK(parser.feed(kGet.data(), kGet.size()) == ParseStatus::Error);
    CHECK(rec.heads.size() == 1);
}

TEST_CASE("proxy/http1/request_parser: a request with Upgrade is followed by the next one") {
    const std::string upgrade =
        "GET http://h/ws HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n";
    for (const auto& reads : every_split(upgrade + kGet)) {
        CAPTURE(reads[0].size());
        auto r = parse(reads);
        CHECK(r.status == ParseStatus::NeedMore);
        REQUIRE(r.rec.heads.size() == 2);
        CHECK(r.rec.heads[1].url == "http://example.com/x?y=1");
    }
    // One resume() reaches the next request: no second pause without a message.
    Recorder rec;
    RequestParser parser(rec, {});
    const std::string input = upgrade + kGet;
    CHECK(parser.feed(input.data(), input.size()) == ParseStatus::Complete);
    CHECK(parser.head().url == "http://h/ws");
    CHECK(parser.resume() == ParseStatus::Complete);
    CHECK(parser.head().url == "http://example.com/x?y=1");
    CHECK(parser.resume() == ParseStatus::NeedMore);
}

TEST_CASE("proxy/http1/request_parser: obs-fold is told from a value split by a read") {
    using proxy::http1::detail::last_non_whitespace;
    // Where a value span starting with `value` begins inside `buffer`.
    auto folded = [](const std::string& buffer, const std::string& value, char previous = '\0') {
        size_t at = buffer.rfind(value);
        REQUIRE(at != std::string::npos);
        return proxy::http1::detail::value_starts_folded_line(buffer.data() + at, buffer.data(),
                                                              previous);
    };
    CHECK_FALSE(folded("X-A: first\r\n", "first"));
    CHECK_FALSE(folded("X-A:first\r\n", "first"));
    CHECK_FALSE(folded("X-A: \t first\r\n", "first"));
    CHECK(folded("X-A: first\r\n second\r\n", " second"));
    CHECK(folded("X-A: first\r\n second\r\n", "second"));
    CHECK(folded("X-A: first\r\n\t \tsecond\r\n", "second"));
    CHECK(folded("Transfer-Encoding:\r\n chunked\r\n", "chunked"));
    // At the start of a buffer, the byte before comes from the previous buffer.
    CHECK_FALSE(folded("rst\r\n", "rst", 'i'));
    CHECK_FALSE(folded(" value\r\n", "value", ':'));
    CHECK(folded(" second\r\n", " second", '\n'));
    CHECK(folded("second\r\n", "second", '\n'));
    CHECK(last_non_whitespace("ab \t", 'x') == 'b');
    CHECK(last_non_whitespace(" \t", 'x') == 'x');
    CHECK(last_non_whitespace("a\r\n ", 'x') == '\n');
}
