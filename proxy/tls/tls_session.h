// TLS server sessions for intercepted CONNECT tunnels, run over memory BIOs so that libuv
// keeps owning the socket: ciphertext read from the client is pushed in, plaintext comes out for
// the same llhttp path plain requests take, and every TLS record to send comes back as bytes
// for an ordinary uv_write. Nothing here blocks or touches a socket.
//
// TlsServerContext: one per Server. Holds the SSL_CTX (TLS 1.2+, ALPN http/1.1 only), the CA,
// one ECDSA P-256 key shared by every leaf certificate, and a bounded cache of leaves by host.
// TlsSession: one per intercepted client connection.
//
// Thread: the loop thread (OpenSSL's error queue is per thread; every call clears it first).
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <ctime>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "proxy/tls/certificate_authority.h"

namespace proxy::tls {

class TlsSession;

class TlsServerContext {
  public:
    // Throws CaError when OpenSSL cannot set up the context (start-up only).
    TlsServerContext(std::unique_ptr<CertificateAuthority> ca, size_t max_leaves = 1024);
    ~TlsServerContext();
    TlsServerContext(const TlsServerContext&) = delete;
    TlsServerContext& operator=(const TlsServerContext&) = delete;

    // A server session presenting a leaf certificate for `host` (the CONNECT target). Null
    // with `error` set when no certificate could be made.
    std::unique_ptr<TlsSession> new_session(const std::string& host, std::string& error);

    const CertificateAuthority& ca() const { return *ca_; }
    size_t cached_leaves() const { return leaves_.size(); }

  private:
    X509* leaf_for(const std::string& host);

    struct Leaf {
        X509Ptr cert;
        std::time_t minted;
        std::list<std::string>::iterator lru;
    };
    std::unique_ptr<CertificateAuthority> ca_;
    PkeyPtr leaf_key_;
    SSL_CTX* ctx_ = nullptr;
    size_t max_leaves_;
    std::unordered_map<std::string, Leaf> leaves_;
    std::list<std::string> lru_;  // most recently used first
};

class TlsSession {
  public:
    enum class Status {
        Ok,      // keep going (the handshake may still be in progress)
        Closed,  // the client sent close_notify: treat like EOF
        Failed,  // handshake or record error: error() says which; close the connection
    };

    // The most plaintext one TLS record carries (RFC 8446 §5.1).
    static constexpr size_t kMaxRecordPlain = 16 * 1024;

    ~TlsSession();
    TlsSession(const TlsSession&) = delete;
    TlsSession& operator=(const TlsSession&) = delete;

    // Ciphertext from the client. Appends decrypted application data to `plain` and any TLS
    // records to send (handshake messages, tickets, alerts) to `wire`.
    Status on_ciphertext(const char* data, size_t size, std::string& plain, std::string& wire);

    // Encrypts `plain` into records appended to `wire`; false (error() set) on failure.
    bool encrypt(std::string_view plain, std::string& wire);

    // Our close_notify, once; appended to `wire`. Only after a completed handshake.
    void shutdown(std::string& wire);

    bool handshake_done() const { return handshake_done_; }
    const std::string& error() const { return error_; }
    // The host the client named in SNI, "" when none.
    std::string server_name() const;

  private:
    friend class TlsServerContext;
    TlsSession(SSL* ssl, std::string host);
    Status fail(std::string_view what, int ssl_error);
    static int servername_cb(SSL* ssl, int* alert, void* arg) noexcept;
    static int alpn_cb(SSL* ssl, const unsigned char** out, unsigned char* out_len,
                       const unsigned char* in, unsigned int in_len, void* arg) noexcept;

    SSL* ssl_;
    BIO* rbio_;  // ciphertext in (owned by ssl_)
    BIO* wbio_;  // ciphertext out, straight to the caller's string (owned by ssl_)
    std::string host_;
    bool handshake_done_ = false;
    bool shutdown_sent_ = false;
    std::string error_;
};

}  // namespace proxy::tls
