#include "proxy/upstream/upstream_transfer.h"

#include "proxy/admin/metrics.h"
#include "proxy/upstream/host_health.h"
#include "proxy/upstream/upstream_route.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <cstring>

namespace proxy {

namespace {

// Large reads keep the per-byte cost of the loop low on multi-gigabyte bodies; 256 KiB is where
// the benchmark stopped improving (docs/performance.md).
constexpr long kCurlBufferSize = 256 * 1024;

// A response head larger than this is refused (502): real ones are a few KiB (signed-URL
// redirects ~4 KiB). curl limits single lines only, so without it an origin sending header lines
// or 1xx responses without end would grow headers_ until the header timeout. Interim responses
// count towards it, which bounds a 1xx storm too.
constexpr uint64_t kMaxResponseHead = 256 * 1024;

UpstreamError classify(CURLcode code) {
    switch (code) {
        case CURLE_OK:
            return UpstreamError::None;
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
            return UpstreamError::DnsFailed;
        case CURLE_COULDNT_CONNECT:
            return UpstreamError::ConnectFailed;
        case CURLE_OPERATION_TIMEDOUT:
            return UpstreamError::Timeout;
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CACERT_BADFILE:
            return UpstreamError::TlsFailed;
        case CURLE_SEND_ERROR:
        case CURLE_READ_ERROR:
        case CURLE_ABORTED_BY_CALLBACK:
            return UpstreamError::SendFailed;
        case CURLE_WRITE_ERROR:
            return UpstreamError::Aborted;
        case CURLE_WEIRD_SERVER_REPLY:
        case CURLE_UNSUPPORTED_PROTOCOL:
            return UpstreamError::BadResponse;
        case CURLE_RECV_ERROR:
        case CURLE_PARTIAL_FILE:
        case CURLE_GOT_NOTHING:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
        case CURLE_BAD_CONTENT_ENCODING:
            return UpstreamError::ReceiveFailed;
        default:
            return UpstreamError::Other;
    }
}

}  // namespace

std::string_view to_string(UpstreamError e) {
    switch (e) {
        case UpstreamError::None:
            return "ok";
        case UpstreamError::DnsFailed:
            return "DNS lookup failed";
        case UpstreamError::ConnectFailed:
            return "connection to origin failed";
        case UpstreamError::TlsFailed:
            return "TLS handshake with origin failed";
        case UpstreamError::Timeout:
            return "origin timed out";
        case UpstreamError::ReceiveFailed:
            return "origin connection broke mid-response";
        case UpstreamError::SendFailed:
            return "request body could not be sent to origin";
        case UpstreamError::BadResponse:
            return "origin sent an invalid response";
        case UpstreamError::Aborted:
            return "aborted";
        case UpstreamError::Other:
            return "upstream transfer failed";
    }
    return "upstream transfer failed";
}

UpstreamTransfer::UpstreamTransfer(CurlMulti& multi, UpstreamSink& sink, uint64_t high_water_mark)
    : multi_(multi), sink_(&sink), high_water_mark_(high_water_mark) {}

UpstreamTransfer::~UpstreamTransfer() {
    if (easy_) {
        if (active_) multi_.remove(easy_);
        curl_easy_cleanup(easy_);
    }
    curl_slist_free_all(header_list_);
}

bool UpstreamTransfer::start(const UpstreamRequest& req) {
    easy_ = curl_easy_init();
    if (!easy_) return false;
    curl_easy_setopt(easy_, CURLOPT_URL, req.url.c_str());
    url_ = req.url;
    counts_for_breaker_ = req.counts_for_breaker;
    curl_easy_setopt(easy_, CURLOPT_PRIVATE, static_cast<CurlTransfer*>(this));
    curl_easy_setopt(easy_, CURLOPT_ERRORBUFFER, error_buffer_);
    curl_easy_setopt(easy_, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy_, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(easy_, CURLOPT_HTTP_CONTENT_DECODING, 0L);
    curl_easy_setopt(easy_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy_, CURLOPT_BUFFERSIZE, kCurlBufferSize);
    curl_easy_setopt(easy_, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(easy_, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy_, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(req.connect_timeout * 1000));
    curl_easy_setopt(easy_, CURLOPT_HEADERFUNCTION, &UpstreamTransfer::header_cb);
    curl_easy_setopt(easy_, CURLOPT_HEADERDATA, this);
    curl_easy_setopt(easy_, CURLOPT_WRITEFUNCTION, &UpstreamTransfer::write_cb);
    curl_easy_setopt(easy_, CURLOPT_WRITEDATA, this);
    // Origins are always verified (libcurl's default: peer and host name); a failure ends the
    // transfer with CURLE_PEER_FAILED_VERIFICATION and the client gets a 502, never a retry
    // without verification.
    if (req.ca_bundle) {
        ca_bundle_ = req.ca_bundle;
        curl_blob blob{const_cast<char*>(ca_bundle_->data()), ca_bundle_->size(), CURL_BLOB_NOCOPY};
        curl_easy_setopt(easy_, CURLOPT_CAINFO_BLOB, &blob);
    }
    // Pins, redirects and the parent proxy; without a route, never the environment's proxy
    // settings: we are the proxy.
    if (req.route) {
        route_ = req.route;
        route_->apply(easy_);
    } else {
        curl_easy_setopt(easy_, CURLOPT_PROXY, "");
    }

    bool has_accept = false;
    for (const auto& h : req.headers) {
        if (policy::iequals(h.name, "accept")) has_accept = true;
        std::string line = h.name + ": " + h.value;
        if (h.value.empty()) line = h.name + ";";  // curl's syntax for a header with no value
        header_list_ = curl_slist_append(header_list_, line.c_str());
    }
    // Suppress headers curl would add on its own, so the origin sees what the client sent.
    if (!has_accept) header_list_ = curl_slist_append(header_list_, "Accept:");
    header_list_ = curl_slist_append(header_list_, "Expect:");
    curl_easy_setopt(easy_, CURLOPT_HTTPHEADER, header_list_);

    if (req.method == "GET") {
        curl_easy_setopt(easy_, CURLOPT_HTTPGET, 1L);
    } else if (req.method == "HEAD") {
        curl_easy_setopt(easy_, CURLOPT_NOBODY, 1L);
    } else {
        curl_easy_setopt(easy_, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    }
    if (req.has_body) {
        curl_easy_setopt(easy_, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(easy_, CURLOPT_READFUNCTION, &UpstreamTransfer::read_cb);
        curl_easy_setopt(easy_, CURLOPT_READDATA, this);
        curl_easy_setopt(easy_, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(req.body_length));
        if (req.method != "PUT") curl_easy_setopt(easy_, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    }
    if (multi_.add(easy_) != CURLM_OK) return false;
    active_ = true;
    return true;
}

void UpstreamTransfer::push_body(const char* data, size_t size) {
    if (size == 0) return;
    body_.emplace_back(data, size);
    body_queued_ += size;
    if (send_paused_) {
        send_paused_ = false;
        update_pause();
    }
}

void UpstreamTransfer::end_body() {
    body_ended_ = true;
    if (send_paused_) {
        send_paused_ = false;
        update_pause();
    }
}

void UpstreamTransfer::pause_download() {
    if (recv_paused_ || !active_) return;
    recv_paused_ = true;
    update_pause();
}

void UpstreamTransfer::resume_download() {
    if (!recv_paused_ || !active_) return;
    recv_paused_ = false;
    update_pause();
}

void UpstreamTransfer::update_pause() {
    if (!active_) return;
    int mask = (recv_paused_ ? CURLPAUSE_RECV : 0) | (send_paused_ ? CURLPAUSE_SEND : 0);
    // May synchronously deliver buffered body bytes to write_cb (and so to the sink).
    multi_.pause(easy_, mask);
}

std::string UpstreamTransfer::primary_address() const {
    char* ip = nullptr;
    long port = 0;
    if (!easy_ || curl_easy_getinfo(easy_, CURLINFO_PRIMARY_IP, &ip) != CURLE_OK || !ip || !*ip)
        return "-";
    curl_easy_getinfo(easy_, CURLINFO_PRIMARY_PORT, &port);
    return std::string(ip) + ":" + std::to_string(port);
}

void UpstreamTransfer::on_transfer_done(CURLcode code) {
    active_ = false;
    UpstreamResult result;
    result.curl_code = code;
    result.error = classify(code);
    // bad_head_: we refused the head (curl then reports a write error, which is not the cause).
    if (bad_head_ || (code == CURLE_OK && !head_done_)) result.error = UpstreamError::BadResponse;
    if (head_bytes_ > kMaxResponseHead)
        result.message = "response header section over " + std::to_string(kMaxResponseHead) +
                         " bytes (1xx responses included)";
    else if (bad_head_)
        result.message = "malformed response head";
    else if (result.error != UpstreamError::None)
        result.message = error_buffer_[0] ? error_buffer_ : curl_easy_strerror(code);
    // A host that could not be reached counts against its breaker (a wrong certificate is
    // not an outage, and a cut after the head is resume's business).
    if (!head_done_ && counts_for_breaker_ && code != CURLE_PEER_FAILED_VERIFICATION &&
        (result.error == UpstreamError::DnsFailed || result.error == UpstreamError::ConnectFailed ||
         result.error == UpstreamError::TlsFailed || result.error == UpstreamError::Timeout))
        host_health().on_unreachable(url_, result.message);
    if (sink_) sink_->on_upstream_done(result);  // may destroy this: nothing after
}

size_t UpstreamTransfer::header_cb(char* data, size_t size, size_t n, void* userp) noexcept {
    return static_cast<UpstreamTransfer*>(userp)->on_header_line(std::string_view(data, size * n));
}

size_t UpstreamTransfer::write_cb(char* data, size_t size, size_t n, void* userp) noexcept {
    return static_cast<UpstreamTransfer*>(userp)->on_body(data, size * n);
}

size_t UpstreamTransfer::read_cb(char* data, size_t size, size_t n, void* userp) noexcept {
    return static_cast<UpstreamTransfer*>(userp)->on_read(data, size * n);
}

size_t UpstreamTransfer::on_header_line(std::string_view line) {
    const size_t consumed = line.size();
    if (!sink_) return 0;
    if (head_done_) return consumed;  // trailers: not forwarded
    head_bytes_ += consumed;
    if (head_bytes_ > kMaxResponseHead) {
        bad_head_ = true;
        return 0;
    }
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
        line.remove_suffix(1);
    if (line.starts_with("HTTP/")) {  // a new status line (after a 1xx, the final one)
        headers_.clear();
        size_t sp = line.find(' ');
        std::string_view rest = sp == std::string_view::npos ? "" : line.substr(sp + 1);
        int status = 0;
        auto [ptr, ec] =
            std::from_chars(rest.data(), rest.data() + std::min<size_t>(3, rest.size()), status);
        if (ec != std::errc() || ptr != rest.data() + 3 || status < 100 || status > 999) {
            bad_head_ = true;
            return 0;
        }
        status_ = status;
        reason_ = std::string(policy::trim_ows(rest.substr(3)));
        return consumed;
    }
    if (line.empty()) {
        if (status_ >= 200 || status_ == 101) {
            head_done_ = true;
            host_health().on_answer(url_, status_, counts_for_breaker_);
            sink_->on_upstream_head(status_, reason_, headers_);
        } else {
            sink_->on_upstream_interim(status_, reason_, headers_);
        }
        return consumed;
    }
    if ((line.front() == ' ' || line.front() == '\t') && !headers_.empty()) {
        // obs-fold (RFC 9112 §5.2): replace with a single space.
        headers_.back().value.append(" ").append(policy::trim_ows(line));
        return consumed;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
        bad_head_ = true;
        return 0;
    }
    headers_.push_back({std::string(line.substr(0, colon)),
                        std::string(policy::trim_ows(line.substr(colon + 1)))});
    return consumed;
}

size_t UpstreamTransfer::on_body(const char* data, size_t size) {
    if (!sink_ || !head_done_) return 0;
    switch (sink_->on_upstream_body(data, size)) {
        case UpstreamSink::BodyAction::Accept:
            bytes_received_ += size;
            metrics().bytes_from_upstream.add(size);
            return size;
        case UpstreamSink::BodyAction::Pause:
            recv_paused_ = true;
            return CURL_WRITEFUNC_PAUSE;
        case UpstreamSink::BodyAction::Abort:
            return 0;
    }
    return 0;
}

size_t UpstreamTransfer::on_read(char* buffer, size_t max) {
    if (!sink_) return CURL_READFUNC_ABORT;
    size_t copied = 0;
    while (copied < max && !body_.empty()) {
        std::string& front = body_.front();
        size_t n = std::min(max - copied, front.size() - body_front_offset_);
        std::memcpy(buffer + copied, front.data() + body_front_offset_, n);
        copied += n;
        body_front_offset_ += n;
        if (body_front_offset_ == front.size()) {
            body_.pop_front();
            body_front_offset_ = 0;
        }
    }
    uint64_t before = body_queued_;
    body_queued_ -= copied;
    if (before >= high_water_mark_ && body_queued_ < high_water_mark_)
        sink_->on_upstream_body_drained();
    if (copied > 0) return copied;
    if (body_ended_) return 0;  // end of the request body
    send_paused_ = true;
    return CURL_READFUNC_PAUSE;
}

// How a failed transfer counts for the retry policy.
policy::FailureKind failure_kind(const UpstreamResult& r) {
    switch (r.error) {
        case UpstreamError::DnsFailed:
            return policy::FailureKind::DnsFailed;
        case UpstreamError::ConnectFailed:
            return policy::FailureKind::ConnectFailed;
        case UpstreamError::TlsFailed:
            return r.curl_code == CURLE_PEER_FAILED_VERIFICATION
                       ? policy::FailureKind::TlsVerifyFailed
                       : policy::FailureKind::TlsError;
        case UpstreamError::Timeout:
            return policy::FailureKind::Timeout;
        case UpstreamError::ReceiveFailed:
            return r.curl_code == CURLE_PARTIAL_FILE ? policy::FailureKind::EarlyEof
                                                     : policy::FailureKind::Reset;
        case UpstreamError::SendFailed:
            return policy::FailureKind::Reset;
        case UpstreamError::BadResponse:
            return policy::FailureKind::ProtocolError;
        case UpstreamError::Aborted:
            return policy::FailureKind::Aborted;
        default:
            return policy::FailureKind::Reset;
    }
}

}  // namespace proxy
