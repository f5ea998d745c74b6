#include "proxy/tls/tls_session.h"

#include <openssl/err.h>

#include <climits>

#include "proxy/tls/openssl_error.h"

namespace proxy::tls {

namespace {

// A leaf is re-minted once it is this old, so a served leaf always has days of validity left.
constexpr std::time_t kLeafRefreshSeconds = 24 * 3600;
// Upper bound of a record's framing: header, explicit nonce (TLS 1.2) or content type (1.3), tag.
constexpr size_t kRecordOverhead = 32;

std::string_view ssl_error_name(int e) {
    switch (e) {
        case SSL_ERROR_SSL:
            return "protocol error";
        case SSL_ERROR_SYSCALL:
            return "unexpected end of stream";
        case SSL_ERROR_ZERO_RETURN:
            return "closed by the client";
        case SSL_ERROR_WANT_WRITE:
            return "blocked on write";
        default:
            return "error";
    }
}

bool same_host(std::string_view a, std::string_view b) {
    if (!a.empty() && a.back() == '.') a.remove_suffix(1);
    if (!b.empty() && b.back() == '.') b.remove_suffix(1);
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

// The outgoing side of every session: a sink BIO that appends each record OpenSSL writes
// straight to the string the current call passed in (see WireTarget). A memory BIO would hold
// the records first and need a second copy (and a zero-filled resize) to get them out: on warm
// HTTPS downloads that was a tenth of dlproxy's CPU.
int wire_write(BIO* bio, const char* data, int size) {
    auto* out = static_cast<std::string*>(BIO_get_data(bio));
    if (!out || size < 0) return -1;
    out->append(data, static_cast<size_t>(size));
    return size;
}

long wire_ctrl(BIO*, int cmd, long, void*) {
    // OpenSSL flushes after each handshake flight; the bytes are already in the string.
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

int wire_create(BIO* bio) {
    BIO_set_data(bio, nullptr);
    BIO_set_init(bio, 1);
    return 1;
}

const BIO_METHOD* wire_method() {
    static BIO_METHOD* method = [] {
        BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "dlproxy wire");
        if (m && (BIO_meth_set_write(m, wire_write) != 1 || BIO_meth_set_ctrl(m, wire_ctrl) != 1 ||
                  BIO_meth_set_create(m, wire_create) != 1)) {
            BIO_meth_free(m);
            m = nullptr;
        }
        return m;
    }();
    return method;
}

// Points the session's wire BIO at `out` for one call, and away from it afterwards: a record
// written outside a call (there are none) fails instead of landing in a dead string.
class WireTarget {
  public:
    WireTarget(BIO* bio, std::string& out) : bio_(bio) { BIO_set_data(bio_, &out); }
    ~WireTarget() { BIO_set_data(bio_, nullptr); }
    WireTarget(const WireTarget&) = delete;
    WireTarget& operator=(const WireTarget&) = delete;

  private:
    BIO* bio_;
};

}  // namespace

// --- TlsServerContext ----------------------------------------------------------------------

TlsServerContext::TlsServerContext(std::unique_ptr<CertificateAuthority> ca, size_t max_leaves)
    : ca_(std::move(ca)), leaf_key_(new_p256_key()), max_leaves_(max_leaves) {
    ctx_ = SSL_CTX_new(TLS_server_method());
    if (!ctx_ || !leaf_key_) throw CaError("cannot set up TLS: " + openssl_error());
    SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
    // Server order (AES-GCM first) unless the client puts ChaCha20 first, which clients without
    // AES instructions do.
    SSL_CTX_set_options(
        ctx_, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_PRIORITIZE_CHACHA);
    // An idle keep-alive connection keeps no record buffers (about 34 KiB each otherwise).
    SSL_CTX_set_mode(ctx_, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_tlsext_servername_callback(ctx_, &TlsSession::servername_cb);
    SSL_CTX_set_alpn_select_cb(ctx_, &TlsSession::alpn_cb, nullptr);
    static const unsigned char kContext[] = "dlproxy";
    SSL_CTX_set_session_id_context(ctx_, kContext, sizeof kContext - 1);
}

TlsServerContext::~TlsServerContext() {
    SSL_CTX_free(ctx_);
}

X509* TlsServerContext::leaf_for(const std::string& host) {
    const std::time_t now = std::time(nullptr);
    auto it = leaves_.find(host);
    if (it != leaves_.end()) {
        if (now - it->second.minted < kLeafRefreshSeconds) {
            lru_.splice(lru_.begin(), lru_, it->second.lru);
            return it->second.cert.get();
        }
        lru_.erase(it->second.lru);
        leaves_.erase(it);
    }
    X509Ptr cert = ca_->mint_leaf(host, leaf_key_.get(), now);
    if (!cert) return nullptr;
    while (leaves_.size() >= max_leaves_ && !lru_.empty()) {
        leaves_.erase(lru_.back());
        lru_.pop_back();
    }
    lru_.push_front(host);
    X509* raw = cert.get();
    leaves_.emplace(host, Leaf{std::move(cert), now, lru_.begin()});
    return raw;
}

std::unique_ptr<TlsSession> TlsServerContext::new_session(const std::string& host,
                                                          std::string& error) {
    ERR_clear_error();
    X509* leaf = leaf_for(host);
    if (!leaf) {
        error = "cannot mint a certificate for '" + host + "': " + openssl_error();
        return nullptr;
    }
    SSL* ssl = SSL_new(ctx_);
    BIO* rbio = BIO_new(BIO_s_mem());
    const BIO_METHOD* wire = wire_method();
    BIO* wbio = wire ? BIO_new(wire) : nullptr;
    // SSL_use_certificate takes its own reference: evicting the leaf later is safe.
    if (!ssl || !rbio || !wbio || SSL_use_certificate(ssl, leaf) != 1 ||
        SSL_use_PrivateKey(ssl, leaf_key_.get()) != 1) {
        error = "cannot start a TLS session: " + openssl_error();
        BIO_free(rbio);
        BIO_free(wbio);
        SSL_free(ssl);
        return nullptr;
    }
    // An empty memory BIO means "no data yet", never end of file.
    BIO_set_mem_eof_return(rbio, -1);
    SSL_set_bio(ssl, rbio, wbio);
    SSL_set_accept_state(ssl);
    std::unique_ptr<TlsSession> session(new TlsSession(ssl, host));
    session->rbio_ = rbio;
    session->wbio_ = wbio;
    SSL_set_app_data(ssl, session.get());
    return session;
}

// --- TlsSession ----------------------------------------------------------------------------

TlsSession::TlsSession(SSL* ssl, std::string host)
    : ssl_(ssl), rbio_(nullptr), wbio_(nullptr), host_(std::move(host)) {}

TlsSession::~TlsSession() {
    SSL_free(ssl_);  // frees both BIOs
}

std::string TlsSession::server_name() const {
    const char* name = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name);
    return name ? name : "";
}

// The leaf is minted for the CONNECT target, which is also where the requests go upstream. A
// client naming another host in SNI would otherwise get content of one origin under a
// certificate it checks against another: refuse the handshake instead.
int TlsSession::servername_cb(SSL* ssl, int* alert, void*) noexcept {
    auto* self = static_cast<TlsSession*>(SSL_get_app_data(ssl));
    const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (!self || !sni || same_host(sni, self->host_)) return SSL_TLSEXT_ERR_OK;
    self->error_ =
        "SNI '" + std::string(sni) + "' differs from the CONNECT target '" + self->host_ + "'";
    *alert = SSL_AD_UNRECOGNIZED_NAME;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

// HTTP/1.1 only: the decrypted stream goes to llhttp. A client offering only h2 gets no ALPN
// answer, which RFC 7301 §3.2 lets it treat as HTTP/1.1 or give up.
int TlsSession::alpn_cb(SSL*, const unsigned char** out, unsigned char* out_len,
                        const unsigned char* in, unsigned int in_len, void*) noexcept {
    static const unsigned char kHttp11[] = "\x08http/1.1";
    unsigned char* selected = nullptr;
    unsigned char selected_len = 0;
    if (SSL_select_next_proto(&selected, &selected_len, kHttp11, sizeof kHttp11 - 1, in, in_len) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = selected;
    *out_len = selected_len;
    return SSL_TLSEXT_ERR_OK;
}

TlsSession::Status TlsSession::on_ciphertext(const char* data, size_t size, std::string& plain,
                                             std::string& wire) {
    ERR_clear_error();
    if (size > INT_MAX || BIO_write(rbio_, data, static_cast<int>(size)) != static_cast<int>(size))
        return fail("buffering input", SSL_ERROR_SSL);
    // Our next flight, tickets, alerts: whatever OpenSSL writes goes straight to `wire`.
    WireTarget target(wbio_, wire);
    if (!handshake_done_) {
        int rc = SSL_do_handshake(ssl_);
        if (rc != 1) {
            int err = SSL_get_error(ssl_, rc);
            if (err == SSL_ERROR_WANT_READ) return Status::Ok;
            return fail("handshake", err);
        }
        handshake_done_ = true;
    }
    for (;;) {
        const size_t old = plain.size();
        plain.resize(old + kMaxRecordPlain);
        int n = SSL_read(ssl_, plain.data() + old, static_cast<int>(kMaxRecordPlain));
        if (n > 0) {
            plain.resize(old + static_cast<size_t>(n));
            continue;
        }
        plain.resize(old);
        int err = SSL_get_error(ssl_, n);
        if (err == SSL_ERROR_WANT_READ) return Status::Ok;
        if (err == SSL_ERROR_ZERO_RETURN) return Status::Closed;
        return fail("read", err);
    }
}

// One record per SSL_write, each appended to `wire` (sized once) as it is made.
bool TlsSession::encrypt(std::string_view plain, std::string& wire) {
    ERR_clear_error();
    wire.reserve(wire.size() + plain.size() +
                 (plain.size() / kMaxRecordPlain + 1) * kRecordOverhead);
    WireTarget target(wbio_, wire);
    while (!plain.empty()) {
        const size_t piece = std::min(plain.size(), kMaxRecordPlain);
        int n = SSL_write(ssl_, plain.data(), static_cast<int>(piece));
        if (n <= 0) {
            fail("write", SSL_get_error(ssl_, n));
            return false;
        }
        plain.remove_prefix(static_cast<size_t>(n));
    }
    return true;
}

void TlsSession::shutdown(std::string& wire) {
    if (!handshake_done_ || shutdown_sent_) return;
    shutdown_sent_ = true;
    ERR_clear_error();
    WireTarget target(wbio_, wire);
    SSL_shutdown(ssl_);
    ERR_clear_error();
}

TlsSession::Status TlsSession::fail(std::string_view what, int ssl_error) {
    std::string detail = openssl_error();
    if (error_.empty())
        error_ = std::string(what) + ": " +
                 (detail.empty() ? std::string(ssl_error_name(ssl_error)) : detail);
    return Status::Failed;
}

}  // namespace proxy::tls
