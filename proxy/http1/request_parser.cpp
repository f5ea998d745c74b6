#include "proxy/http1/request_parser.h"

namespace proxy::http1 {

namespace {

bool is_ws(char c) {
    return c == ' ' || c == '\t';
}

}  // namespace

int status_code(RequestError error) {
    switch (error) {
        case RequestError::None:
            return 0;
        case RequestError::HeaderTooLarge:
            return 431;
        case RequestError::UriTooLong:
            return 414;
        case RequestError::Malformed:
        case RequestError::ObsFold:
        case RequestError::Refused:
            return 400;
    }
    return 400;
}

// llhttp callbacks: C trampolines that recover the parser and forward.
struct ParserCallbacks {
    static RequestParser* self(llhttp_t* p) { return static_cast<RequestParser*>(p->data); }
    static int message_begin(llhttp_t* p) { return self(p)->on_message_begin(); }
    static int url(llhttp_t* p, const char* at, size_t n) { return self(p)->on_url(at, n); }
    static int field(llhttp_t* p, const char* at, size_t n) {
        return self(p)->on_header_field(at, n);
    }
    static int value(llhttp_t* p, const char* at, size_t n) {
        return self(p)->on_header_value(at, n);
    }
    static int headers_complete(llhttp_t* p) { return self(p)->on_headers_complete(); }
    static int body(llhttp_t* p, const char* at, size_t n) { return self(p)->on_body(at, n); }
    static int message_complete(llhttp_t* p) { return self(p)->on_message_complete(); }

    static const llhttp_settings_t& settings() {
        static const llhttp_settings_t s = [] {
            llhttp_settings_t st;
            llhttp_settings_init(&st);
            st.on_message_begin = message_begin;
            st.on_url = url;
            st.on_header_field = field;
            st.on_header_value = value;
            st.on_headers_complete = headers_complete;
            st.on_body = body;
            st.on_message_complete = message_complete;
            return st;
        }();
        return s;
    }
};

RequestParser::RequestParser(RequestHandler& handler, Limits limits)
    : handler_(handler), limits_(limits) {
    reset();
}

void RequestParser::reset() {
    llhttp_init(&parser_, HTTP_REQUEST, &ParserCallbacks::settings());
    parser_.data = this;
    head_ = {};
    head_bytes_ = 0;
    last_was_value_ = false;
    complete_ = false;
    paused_ = false;
    error_ = RequestError::None;
    pending_.clear();
    previous_non_ws_ = '\0';
}

ParseStatus RequestParser::feed(const char* data, size_t size) {
    if (error_ != RequestError::None) return ParseStatus::Error;
    if (paused_) {
        pending_.append(data, size);
        return llhttp_get_errno(&parser_) == HPE_PAUSED_UPGRADE && head_.method == "CONNECT"
                   ? ParseStatus::Upgrade
                   : ParseStatus::Complete;
    }
    return execute(data, size);
}

ParseStatus RequestParser::resume() {
    if (error_ != RequestError::None) return ParseStatus::Error;
    head_ = {};
    head_bytes_ = 0;
    last_was_value_ = false;
    complete_ = false;
    if (!paused_) return ParseStatus::NeedMore;
    paused_ = false;
    llhttp_resume(&parser_);
    std::string input = std::move(pending_);
    pending_.clear();
    if (input.empty()) return ParseStatus::NeedMore;
    return execute(input.data(), input.size());
}

std::string RequestParser::take_pending() {
    std::string out = std::move(pending_);
    pending_.clear();
    return out;
}

std::string RequestParser::error_message() const {
    switch (error_) {
        case RequestError::None:
            return "";
        case RequestError::HeaderTooLarge:
            return "request header section exceeds max-header-size";
        case RequestError::UriTooLong:
            return "request target too long";
        case RequestError::ObsFold:
            return "malformed request: folded header line (obs-fold)";
        case RequestError::Malformed:
        case RequestError::Refused:
            break;
    }
    return std::string("malformed request: ") + llhttp_get_error_reason(&parser_);
}

ParseStatus RequestParser::execute(const char* data, size_t size) {
    buffer_begin_ = data;
    llhttp_errno_t err = llhttp_execute(&parser_, data, size);
    // A request with Upgrade (not CONNECT) pauses llhttp once more after its response, before
    // the next message. The proxy dropped that Upgrade field (hop-by-hop) and answered in HTTP/1,
    // so the stream goes on as HTTP/1.
    while (err == HPE_PAUSED_UPGRADE && !complete_) {
        llhttp_resume_after_upgrade(&parser_);
        const char* at = llhttp_get_error_pos(&parser_);
        err = llhttp_execute(&parser_, at, size - static_cast<size_t>(at - data));
    }
    buffer_begin_ = nullptr;
    const char* stop = err == HPE_OK ? nullptr : llhttp_get_error_pos(&parser_);
    const size_t consumed = stop ? static_cast<size_t>(stop - data) : size;
    previous_non_ws_ =
        detail::last_non_whitespace(std::string_view(data, consumed), previous_non_ws_);
    if (err == HPE_OK) return ParseStatus::NeedMore;
    if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
        paused_ = true;
        // Bytes appended while this buffer was parsed came later: the rest goes first.
        pending_.insert(0, data + consumed, size - consumed);
        return err == HPE_PAUSED_UPGRADE && head_.method == "CONNECT" ? ParseStatus::Upgrade
                                                                      : ParseStatus::Complete;
    }
    if (error_ == RequestError::None) error_ = RequestError::Malformed;
    return ParseStatus::Error;
}

int RequestParser::fail(RequestError error) {
    if (error_ == RequestError::None) error_ = error;
    return -1;
}

bool RequestParser::count_head_bytes(size_t size) {
    head_bytes_ += size;
    return head_bytes_ <= limits_.max_head_bytes;
}

int RequestParser::on_message_begin() {
    head_ = {};
    head_bytes_ = 0;
    last_was_value_ = false;
    complete_ = false;
    handler_.on_request_begin();
    return 0;
}

int RequestParser::on_url(const char* at, size_t size) {
    if (!count_head_bytes(size)) return fail(RequestError::HeaderTooLarge);
    head_.url.append(at, size);
    return head_.url.size() > limits_.max_url_length ? fail(RequestError::UriTooLong) : 0;
}

int RequestParser::on_header_field(const char* at, size_t size) {
    if (!count_head_bytes(size)) return fail(RequestError::HeaderTooLarge);
    if (last_was_value_ || head_.headers.empty()) head_.headers.push_back({});
    head_.headers.back().name.append(at, size);
    last_was_value_ = false;
    return 0;
}

int RequestParser::on_header_value(const char* at, size_t size) {
    if (!count_head_bytes(size)) return fail(RequestError::HeaderTooLarge);
    // RFC 9112 §5.2: a server may reject obs-fold with 400; llhttp would unfold it, and a fold
    // is the classic way to make a proxy and an origin disagree about a header
    // (`Transfer-Encoding:` CRLF ` chunked`).
    if (detail::value_starts_folded_line(at, buffer_begin_, previous_non_ws_))
        return fail(RequestError::ObsFold);
    head_.headers.back().value.append(at, size);
    last_was_value_ = true;
    return 0;
}

int RequestParser::on_headers_complete() {
    head_.method = llhttp_method_name(static_cast<llhttp_method_t>(parser_.method));
    head_.http_major = parser_.http_major;
    head_.http_minor = parser_.http_minor;
    head_.keep_alive = llhttp_should_keep_alive(&parser_) != 0;
    head_.chunked = (parser_.flags & F_CHUNKED) != 0;
    head_.has_content_length = (parser_.flags & F_CONTENT_LENGTH) != 0;
    head_.content_length = head_.has_content_length ? parser_.content_length : 0;
    for (auto& h : head_.headers)
        h.value = std::string(policy::trim_ows(h.value));
    return handler_.on_request_head(head_) ? 0 : fail(RequestError::Refused);
}

int RequestParser::on_body(const char* at, size_t size) {
    return handler_.on_request_body(at, size) ? 0 : fail(RequestError::Refused);
}

int RequestParser::on_message_complete() {
    complete_ = true;
    if (!handler_.on_request_complete()) return fail(RequestError::Refused);
    // A CONNECT ends in HPE_PAUSED_UPGRADE (its bytes after the head are the tunnel's); any
    // other request pauses the stream until its response is done, holding pipelined requests.
    if (head_.method == "CONNECT") return 0;
    return HPE_PAUSED;
}

namespace detail {

bool value_starts_folded_line(const char* at, const char* buffer_begin, char previous_non_ws) {
    const char* p = at;
    while (p > buffer_begin && is_ws(p[-1]))
        --p;
    // A value's first piece follows "name:" (and OWS); a fold's piece follows a line break.
    const char before = p > buffer_begin ? p[-1] : previous_non_ws;
    return before == '\n' || before == '\r';
}

char last_non_whitespace(std::string_view data, char previous) {
    for (size_t i = data.size(); i > 0; --i)
        if (!is_ws(data[i - 1])) return data[i - 1];
    return previous;
}

}  // namespace detail

}  // namespace proxy::http1
