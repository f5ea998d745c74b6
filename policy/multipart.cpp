#include "policy/multipart.h"

#include "policy/header_list.h"
#include "policy/text.h"

namespace policy {

std::string_view to_string(MultipartErrc e) {
    switch (e) {
        case MultipartErrc::PreambleTooLong:
            return "no multipart delimiter in the preamble";
        case MultipartErrc::BadDelimiter:
            return "bad multipart delimiter";
        case MultipartErrc::HeadersTooLong:
            return "multipart part headers too long";
        case MultipartErrc::NoContentRange:
            return "multipart part without Content-Range";
        case MultipartErrc::BadContentRange:
            return "bad Content-Range in a multipart part";
        case MultipartErrc::Truncated:
            return "multipart body truncated";
    }
    return "unknown multipart error";
}

namespace {

constexpr std::string_view kCrlf = "\r\n";

bool ends_with(const std::string& s, std::string_view tail) {
    return s.size() >= tail.size() && std::string_view(s).substr(s.size() - tail.size()) == tail;
}

bool is_boundary_char(char c) {
    // RFC 2046 §5.1.1 bchars (a trailing space is not allowed; spaces inside are).
    static constexpr std::string_view kOther = "'()+_,-./:=? ";
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           kOther.find(c) != std::string_view::npos;
}

}  // namespace

std::optional<std::string> byteranges_boundary(std::string_view content_type) {
    auto semi = content_type.find(';');
    if (!iequals(trim_ows(content_type.substr(0, semi)), "multipart/byteranges")) return {};
    std::string_view params =
        semi == std::string_view::npos ? std::string_view{} : content_type.substr(semi + 1);
    while (!params.empty()) {
        semi = params.find(';');
        std::string_view param = trim_ows(params.substr(0, semi));
        params = semi == std::string_view::npos ? std::string_view{} : params.substr(semi + 1);
        auto eq = param.find('=');
        if (eq == std::string_view::npos || !iequals(trim_ows(param.substr(0, eq)), "boundary"))
            continue;
        auto value = detail::unquote(trim_ows(param.substr(eq + 1)));
        if (!value || value->empty() || value->size() > 70 || value->back() == ' ') return {};
        for (char c : *value)
            if (!is_boundary_char(c)) return {};
        return value;
    }
    return {};
}

MultipartParser::MultipartParser(std::string boundary) : delimiter_("--" + std::move(boundary)) {}

Result<void, MultipartErrc> MultipartParser::fail_with(MultipartErrc e) {
    state_ = State::Failed;
    error_ = e;
    pending_.clear();
    return fail(e);
}

Result<void, MultipartErrc> MultipartParser::feed(std::string_view data,
                                                  MultipartVisitor& visitor) {
    size_t i = 0;
    while (i < data.size()) {
        switch (state_) {
            case State::Failed:
                return fail(error_);
            case State::Epilogue:
                return {};
            case State::Body: {
                const size_t n =
                    static_cast<size_t>(std::min<uint64_t>(body_remaining_, data.size() - i));
                visitor.on_part_bytes(data.substr(i, n));
                i += n;
                body_remaining_ -= n;
                if (body_remaining_ == 0) {
                    visitor.on_part_end();
                    state_ = State::Delimiter;
                }
                continue;
            }
            default:
                break;
        }
        // The text states, a byte at a time: they are a few dozen bytes per part.
        pending_.push_back(data[i++]);
        switch (state_) {
            case State::Preamble:
                if (ends_with(pending_, delimiter_)) {
                    pending_.clear();
                    state_ = State::AfterDelimiter;
                } else if (pending_.size() > kMaxPreamble + delimiter_.size()) {
                    return fail_with(MultipartErrc::PreambleTooLong);
                }
                break;
            case State::AfterDelimiter: {
                // "--" closes; otherwise optional transport padding (LWSP), then CRLF.
                const char c = pending_.back();
                const size_t n = pending_.size();
                if (pending_[0] == '-') {
                    if (c != '-') return fail_with(MultipartErrc::BadDelimiter);
                    if (n == 2) {
                        pending_.clear();
                        state_ = State::Epilogue;
                    }
                } else if (n >= 2 && pending_[n - 2] == '\r') {
                    if (c != '\n') return fail_with(MultipartErrc::BadDelimiter);
                    pending_.clear();
                    state_ = State::Headers;
                } else if ((c != ' ' && c != '\t' && c != '\r') || n > 64) {
                    return fail_with(MultipartErrc::BadDelimiter);
                }
                break;
            }
            case State::Headers:
                if (pending_ == kCrlf) return fail_with(MultipartErrc::NoContentRange);
                if (ends_with(pending_, "\r\n\r\n")) {
                    std::string headers = std::move(pending_);
                    pending_.clear();
                    headers.resize(headers.size() - 4);
                    if (auto started = start_part(headers, visitor); !started) return started;
                } else if (pending_.size() > kMaxPartHeaders) {
                    return fail_with(MultipartErrc::HeadersTooLong);
                }
                break;
            case State::Delimiter: {
                const size_t n = pending_.size();
                const bool crlf = n <= 2;
                const char want = crlf ? kCrlf[n - 1] : delimiter_[n - 3];
                if (pending_.back() != want) return fail_with(MultipartErrc::BadDelimiter);
                if (n == 2 + delimiter_.size()) {
                    pending_.clear();
                    state_ = State::AfterDelimiter;
                }
                break;
            }
            default:
                break;
        }
    }
    if (state_ == State::Failed) return fail(error_);
    return {};
}

Result<void, MultipartErrc> MultipartParser::start_part(std::string_view headers,
                                                        MultipartVisitor& visitor) {
    std::optional<std::string_view> content_range;
    while (!headers.empty()) {
        auto eol = headers.find(kCrlf);
        std::string_view line = headers.substr(0, eol);
        headers = eol == std::string_view::npos ? std::string_view{} : headers.substr(eol + 2);
        auto colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        if (iequals(trim_ows(line.substr(0, colon)), "content-range"))
            content_range = trim_ows(line.substr(colon + 1));
    }
    if (!content_range) return fail_with(MultipartErrc::NoContentRange);
    auto parsed = parse_content_range(*content_range);
    if (!parsed || !parsed->range || !parsed->complete_length)
        return fail_with(MultipartErrc::BadContentRange);
    body_remaining_ = parsed->range->length();
    state_ = State::Body;
    visitor.on_part(*parsed->range, *parsed->complete_length);
    return {};
}

Result<void, MultipartErrc> MultipartParser::finish() const {
    if (state_ == State::Epilogue) return {};
    return fail(state_ == State::Failed ? error_ : MultipartErrc::Truncated);
}

std::string multipart_part_head(std::string_view boundary, std::string_view content_type,
                                ByteRange range, uint64_t complete_length) {
    std::string out;
    out.reserve(96 + boundary.size() + content_type.size());
    out.append("\r\n--").append(boundary).append("\r\n");
    out.append("Content-Type: ").append(content_type).append("\r\n");
    out.append("Content-Range: ").append(format_content_range(range, complete_length));
    out.append("\r\n\r\n");
    return out;
}

std::string multipart_close_delimiter(std::string_view boundary) {
    return "\r\n--" + std::string(boundary) + "--\r\n";
}

std::string byteranges_content_type(std::string_view boundary) {
    return "multipart/byteranges; boundary=" + std::string(boundary);
}

}  // namespace policy
