#include "proxy/http1/response_writer.h"

#include "proxy/http1/response_head.h"

namespace proxy::http1 {

namespace {

constexpr std::string_view kVia = "dlproxy";

char hex_digit(unsigned v) {
    return static_cast<char>(v < 10 ? '0' + v : 'a' + v - 10);
}

}  // namespace

void ResponseWriter::start(std::string_view method, bool http10, bool keep_alive) {
    flush();  // the previous response's last bytes, framed as they were
    method_ = method;
    http10_ = http10;
    keep_alive_ = keep_alive;
    framing_ = Framing::None;
}

void ResponseWriter::send_relayed_head(int status, std::string_view reason,
                                       const policy::HeaderList& origin_headers) {
    policy::HeaderList headers = policy::end_to_end(origin_headers);
    const bool origin_chunked =
        policy::find_header(origin_headers, "transfer-encoding").has_value();
    const bool has_length = policy::find_header(headers, "content-length").has_value();
    if (response_has_no_body(method_, status)) {
        framing_ = Framing::None;
    } else if (has_length && !origin_chunked) {
        framing_ = Framing::Length;
    } else {
        // RFC 9112 §6.3: with Transfer-Encoding, Content-Length is meaningless; re-frame.
        policy::remove_header(headers, "content-length");
        if (http10_) {
            framing_ = Framing::Close;  // an HTTP/1.0 client knows no chunks
            keep_alive_ = false;
        } else {
            framing_ = Framing::Chunked;
            headers.push_back({"Transfer-Encoding", "chunked"});
        }
    }
    send_head(status, reason, std::move(headers));
}

void ResponseWriter::send_stored_head(int status, const policy::HeaderList& headers) {
    framing_ = status == 304 ? Framing::None : Framing::Length;
    send_head(status, "", headers);
}

void ResponseWriter::send_head(int status, std::string_view reason, policy::HeaderList headers) {
    policy::add_via(headers, "1.1", kVia);
    if (!keep_alive_)
        headers.push_back({"Connection", "close"});
    else if (http10_)
        headers.push_back({"Connection", "keep-alive"});
    flush();  // keep the byte order: batched body bytes first
    output_.write_out(format_response_head(status, reason, headers));
}

void ResponseWriter::send_body(const char* data, size_t size) {
    if (batch_.empty()) batch_.reserve(kBatchSize);
    batch_.append(data, size);
    if (batch_.size() >= kBatchSize) {
        flush();
    } else if (output_.flush_deferrable()) {
        if (!flush_scheduled_) {
            flush_scheduled_ = true;
            output_.schedule_flush();
        }
    } else {
        flush();
    }
}

void ResponseWriter::flush() {
    flush_scheduled_ = false;
    if (batch_.empty()) return;
    std::string out;
    if (framing_ == Framing::Chunked) {
        out = detail::chunk_header(batch_.size());
        out.reserve(out.size() + batch_.size() + 2);
        out.append(batch_).append("\r\n");
        batch_.clear();
    } else {
        out.swap(batch_);
    }
    output_.write_out(std::move(out));
}

void ResponseWriter::finish_body() {
    flush();
    if (framing_ == Framing::Chunked) output_.write_out("0\r\n\r\n");
}

namespace detail {

std::string chunk_header(size_t size) {
    char digits[2 * sizeof size];
    size_t n = 0;
    do {
        digits[n++] = hex_digit(static_cast<unsigned>(size & 0xf));
        size >>= 4;
    } while (size);
    std::string out;
    out.reserve(n + 2);
    while (n)
        out.push_back(digits[--n]);
    out.append("\r\n");
    return out;
}

}  // namespace detail

}  // namespace proxy::http1
