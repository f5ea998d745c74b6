// The client request path: bytes from a client socket through llhttp (HTTP_REQUEST, with the
// callbacks proxy/client_connection.cpp installs) and on to the forwarding decision of
// proxy/client_forwarding.cpp: the target parsed (absolute-form, or authority-form for CONNECT),
// the header fields reduced to the end-to-end ones, Via added.
//
// Properties:
//   - llhttp hands over no more header bytes than it was given, and we keep no more than the
//     proxy's limits (max_header_size, 16 KiB of URL);
//   - a request that reaches its end of headers has no smuggling ambiguity left: at most one
//     Content-Length, never Content-Length with Transfer-Encoding;
//   - a parsed target's url() re-parses to the identical target (the proxy forwards url());
//   - end_to_end() keeps a subsequence of the fields, none of them hop-by-hop nor named by
//     Connection/Proxy-Connection; add_via() adds exactly one Via entry; no forwarded name or value
//     holds CR, LF or NUL (curl would write them onto the origin connection as they are).
// Pipelined requests are parsed one after another, as the proxy does after each response.
#include <llhttp.h>

#include <cstdint>
#include <string>

#include "fuzz/fuzz_check.h"
#include "policy/header_list.h"
#include "policy/request_target.h"

namespace {

constexpr size_t kMaxHeaderBytes = 64 << 10;  // proxy::Config::max_header_size default
constexpr size_t kMaxUrlLength = 16 << 10;    // proxy/client_connection.cpp

struct Request {
    std::string url;
    policy::HeaderList headers;
    bool last_was_value = false;
    size_t header_bytes = 0;
    size_t input_size = 0;
};

bool count(Request& r, size_t n) {
    r.header_bytes += n;
    FUZZ_CHECK(r.header_bytes <= r.input_size);
    return r.header_bytes <= kMaxHeaderBytes;
}

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

// The forwarding decision, at the end of the header section (on_headers_complete).
int on_headers_complete(llhttp_t* p) {
    auto& r = *static_cast<Request*>(p->data);
    for (auto& h : r.headers)
        h.value = std::string(policy::trim_ows(h.value));
    FUZZ_CHECK(policy::count_header(r.headers, "content-length") <= 1);
    FUZZ_CHECK(!(policy::find_header(r.headers, "content-length") &&
                 policy::find_header(r.headers, "transfer-encoding")));
    if (p->method == HTTP_CONNECT) {
        if (auto hp = policy::parse_host_port(r.url)) check_connect(*hp);
        return 0;
    }
    auto target = policy::parse_absolute_target(r.url);
    if (!target) return -1;  // the proxy answers 400 and stops parsing
    check_target(*target);
    check_forwarded_headers(r.headers);
    return 0;
}

int on_message_begin(llhttp_t* p) {
    auto& r = *static_cast<Request*>(p->data);
    r.url.clear();
    r.headers.clear();
    r.last_was_value = false;
    r.header_bytes = 0;
    return 0;
}

int on_url(llhttp_t* p, const char* at, size_t n) {
    auto& r = *static_cast<Request*>(p->data);
    if (!count(r, n)) return -1;
    r.url.append(at, n);
    return r.url.size() > kMaxUrlLength ? -1 : 0;
}

int on_header_field(llhttp_t* p, const char* at, size_t n) {
    auto& r = *static_cast<Request*>(p->data);
    if (!count(r, n)) return -1;
    if (r.last_was_value || r.headers.empty()) r.headers.push_back({});
    r.headers.back().name.append(at, n);
    r.last_was_value = false;
    return 0;
}

int on_header_value(llhttp_t* p, const char* at, size_t n) {
    auto& r = *static_cast<Request*>(p->data);
    if (!count(r, n)) return -1;
    FUZZ_CHECK(!r.headers.empty());
    r.headers.back().value.append(at, n);
    r.last_was_value = true;
    return 0;
}

int on_message_complete(llhttp_t*) {
    return HPE_PAUSED;  // as the proxy: hold pipelined requests until the response is done
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    llhttp_settings_t settings;
    llhttp_settings_init(&settings);
    settings.on_message_begin = on_message_begin;
    settings.on_url = on_url;
    settings.on_header_field = on_header_field;
    settings.on_header_value = on_header_value;
    settings.on_headers_complete = on_headers_complete;
    settings.on_message_complete = on_message_complete;

    Request request;
    request.input_size = size;
    llhttp_t parser;
    llhttp_init(&parser, HTTP_REQUEST, &settings);
    parser.data = &request;

    const char* at = reinterpret_cast<const char*>(data);
    size_t left = size;
    while (true) {
        llhttp_errno_t err = llhttp_execute(&parser, at, left);
        if (err != HPE_PAUSED) break;  // done, an error, or a CONNECT tunnel (HPE_PAUSED_UPGRADE)
        const char* stop = llhttp_get_error_pos(&parser);
        FUZZ_CHECK(stop > at && stop <= at + left);  // a message takes at least one byte
        left -= static_cast<size_t>(stop - at);
        at = stop;
        request.input_size = left;
        llhttp_resume(&parser);
    }
    return 0;
}
