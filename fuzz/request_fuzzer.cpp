// The client request path: bytes from a client socket through proxy::http1::RequestParser (the
// parser ClientConnection and AdminConnection run, compiled in here from its source) and on to
// the forwarding decision of proxy/client/client_forwarding.cpp: the target parsed (absolute-form,
// or authority-form for CONNECT), the header fields reduced to the end-to-end ones, Via added.
//
// Properties:
//   - the parser keeps no more than the proxy's limits (max_header_size, 16 KiB of URL) and
//     counts no more head bytes than it was given; a refusal carries a status (400, 414, 431);
//   - a request that reaches its end of headers has no smuggling ambiguity left: at most one
//     Content-Length, never Content-Length with Transfer-Encoding;
//   - a parsed target's url() re-parses to the identical target (the proxy forwards url());
//   - end_to_end() keeps a subsequence of the fields, none of them hop-by-hop nor named by
//     Connection/Proxy-Connection; add_via() adds exactly one Via entry; no forwarded name or value
//     holds CR, LF or NUL (curl would write them onto the origin connection as they are);
//   - read boundaries do not matter: the input fed in one piece and one byte at a time gives the
//     same requests, bodies, tunnel bytes and outcome (obs-fold detection looks across reads).
// Pipelined requests are parsed one after another, as the proxy does after each response.
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "policy/header_list.h"
#include "policy/request_target.h"
#include "proxy/http1/request_parser.h"

namespace {

using proxy::http1::ParseStatus;
using proxy::http1::RequestError;
using proxy::http1::RequestHead;

constexpr proxy::http1::RequestParser::Limits kLimits;  // the proxy's defaults

bool clean(std::string_view s) {
    return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

void check_target(const policy::RequestTarget& t) {
    FUZZ_CHECK(t.scheme == "http");
    FUZZ_CHECK(!t.host.empty() && !t.path.empty() && t.path.front() == '/');
    FUZZ_CHECK(clean(t.url()) && t.url().find(' ') == std::string::npos);
    auto again = policy::parse_absolute_target(t.url());
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(again->scheme == t.scheme && again->host == t.host && again->port == t.port &&
               again->path == t.path && again->ipv6_literal == t.ipv6_literal);
    FUZZ_CHECK(again->url() == t.url() && again->host_header() == t.host_header());
}

void check_connect(const policy::HostPort& hp) {
    auto again = policy::parse_host_port(hp.to_string());
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(again->host == hp.host && again->port == hp.port &&
               again->ipv6_literal == hp.ipv6_literal);
}

void check_forwarded_headers(const policy::HeaderList& in) {
    policy::HeaderList out = policy::end_to_end(in);
    size_t j = 0;  // out must be a subsequence of in
    for (const auto& h : out) {
        while (j < in.size() && (in[j].name != h.name || in[j].value != h.value))
            ++j;
        FUZZ_CHECK(j < in.size());
        ++j;
        FUZZ_CHECK(!policy::is_fixed_hop_by_hop(h.name));
        FUZZ_CHECK(!policy::has_token(in, "connection", h.name));
        FUZZ_CHECK(!policy::has_token(in, "proxy-connection", h.name));
    }
    size_t vias = policy::count_header(out, "via");
    policy::add_via(out, "1.1", "dlproxy");
    FUZZ_CHECK(policy::count_header(out, "via") == (vias ? vias : 1));
    FUZZ_CHECK(policy::has_token(out, "via", "1.1 dlproxy"));
    size_t in_bytes = 0, out_bytes = 0;
    for (const auto& h : in)
        in_bytes += h.name.size() + h.value.size();
    for (const auto& h : out) {
        out_bytes += h.name.size() + h.value.size();
        FUZZ_CHECK(clean(h.name) && clean(h.value));
    }
    FUZZ_CHECK(out_bytes <= in_bytes + sizeof("Via, 1.1 dlproxy"));
}

// Everything one run observes, compared between the two ways of feeding the input.
struct Trace {
    std::vector<RequestHead> heads;
    std::vector<std::string> bodies;
    size_t completed = 0;
    std::string tunnel;  // bytes after a CONNECT
    ParseStatus status = ParseStatus::NeedMore;
    RequestError error = RequestError::None;
};

bool same(const RequestHead& a, const RequestHead& b) {
    if (a.method != b.method || a.url != b.url || a.http_major != b.http_major ||
        a.http_minor != b.http_minor || a.keep_alive != b.keep_alive || a.chunked != b.chunked ||
        a.has_content_length != b.has_content_length || a.content_length != b.content_length ||
        a.headers.size() != b.headers.size())
        return false;
    for (size_t i = 0; i < a.headers.size(); ++i)
        if (a.headers[i].name != b.headers[i].name || a.headers[i].value != b.headers[i].value)
            return false;
    return true;
}

// The proxy's side of the parser: the forwarding decision at the end of each head.
class Recorder final : public proxy::http1::RequestHandler {
  public:
    Recorder(Trace& trace, size_t input_size) : trace_(trace), input_size_(input_size) {}

    bool on_request_head(const RequestHead& head) override {
        FUZZ_CHECK(head.url.size() <= kLimits.max_url_length);
        FUZZ_CHECK(!head.method.empty());
        trace_.heads.push_back(head);
        trace_.bodies.emplace_back();
        FUZZ_CHECK(policy::count_header(head.headers, "content-length") <= 1);
        FUZZ_CHECK(!(policy::find_header(head.headers, "content-length") &&
                     policy::find_header(head.headers, "transfer-encoding")));
        if (head.method == "CONNECT") {
            if (auto hp = policy::parse_host_port(head.url)) check_connect(*hp);
            return true;
        }
        auto target = policy::parse_absolute_target(head.url);
        if (!target) return false;  // the proxy answers 400 and stops parsing
        check_target(*target);
        check_forwarded_headers(head.headers);
        return true;
    }
    bool on_request_body(const char* data, size_t size) override {
        FUZZ_CHECK(!trace_.bodies.empty() && size <= input_size_);
        trace_.bodies.back().append(data, size);
        return true;
    }
    bool on_request_complete() override {
        ++trace_.completed;
        return true;
    }

  private:
    Trace& trace_;
    size_t input_size_;
};

// Feeds `size` bytes in pieces of `step`, resuming after each complete request as the proxy
// does once the response is done.
Trace run(const char* data, size_t size, size_t step) {
    Trace trace;
    Recorder recorder(trace, size);
    proxy::http1::RequestParser parser(recorder, kLimits);
    size_t fed = 0;
    ParseStatus status = ParseStatus::NeedMore;
    while (fed < size && status == ParseStatus::NeedMore) {
        const size_t n = std::min(step, size - fed);
        status = parser.feed(data + fed, n);
        fed += n;
        while (status == ParseStatus::Complete) {
            FUZZ_CHECK(parser.message_complete());
            FUZZ_CHECK(trace.completed <= size);  // a message takes at least one byte
            status = parser.resume();
        }
        FUZZ_CHECK(parser.head_bytes() <= size);
        FUZZ_CHECK(parser.head_bytes() <= kLimits.max_head_bytes ||
                   parser.error() == RequestError::HeaderTooLarge);
    }
    trace.status = status;
    trace.error = parser.error();
    if (status == ParseStatus::Upgrade) {
        FUZZ_CHECK(!trace.heads.empty() && trace.heads.back().method == "CONNECT");
        trace.tunnel = parser.take_pending();
        trace.tunnel.append(data + fed, size - fed);
    }
    if (status == ParseStatus::Error) {
        const int code = proxy::http1::status_code(trace.error);
        FUZZ_CHECK(code == 400 || code == 414 || code == 431);
        FUZZ_CHECK(!parser.error_message().empty());
    } else {
        FUZZ_CHECK(trace.error == RequestError::None);
    }
    return trace;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const char* text = reinterpret_cast<const char*>(data);
    const Trace whole = run(text, size, size ? size : 1);
    const Trace bytes = run(text, size, 1);
    FUZZ_CHECK(whole.status == bytes.status && whole.error == bytes.error);
    FUZZ_CHECK(whole.completed == bytes.completed && whole.tunnel == bytes.tunnel);
    FUZZ_CHECK(whole.heads.size() == bytes.heads.size());
    for (size_t i = 0; i < whole.heads.size(); ++i) {
        FUZZ_CHECK(same(whole.heads[i], bytes.heads[i]));
        FUZZ_CHECK(whole.bodies[i] == bytes.bodies[i]);
    }
    return 0;
}
