#include "proxy/tls/tls_session.h"

#include <doctest/doctest.h>
#include <openssl/ssl.h>

#include <filesystem>

using proxy::tls::CertificateAuthority;
using proxy::tls::TlsServerContext;
using proxy::tls::TlsSession;

namespace {

// A TLS client over memory BIOs trusting only the test CA, checking `host`.
struct Client {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL* ssl = nullptr;
    BIO* in = BIO_new(BIO_s_mem());
    BIO* out = BIO_new(BIO_s_mem());

    Client(X509* ca, const char* sni, const char* host) {
        X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
        static const unsigned char kAlpn[] = "\x02h2\x08http/1.1";
        SSL_CTX_set_alpn_protos(ctx, kAlpn, sizeof kAlpn - 1);
        ssl = SSL_new(ctx);
        BIO_set_mem_eof_return(in, -1);
        BIO_set_mem_eof_return(out, -1);
        SSL_set_bio(ssl, in, out);
        SSL_set_connect_state(ssl);
        if (sni) SSL_set_tlsext_host_name(ssl, sni);
        if (host) SSL_set1_host(ssl, host);
    }
    ~Client() {
        SSL_free(ssl);
        SSL_CTX_free(ctx);
    }
    std::string take() {
        std::string s(BIO_ctrl_pending(out), '\0');
        BIO_read(out, s.data(), static_cast<int>(s.size()));
        return s;
    }
    void give(const std::string& s) { BIO_write(in, s.data(), static_cast<int>(s.size())); }
};

struct Fixture {
    std::string dir;
    std::unique_ptr<TlsServerContext> server;
    X509* ca = nullptr;
    Fixture() {
        char tmpl[] = "/tmp/dlproxy-tls-test-XXXXXX";
        dir = mkdtemp(tmpl);
        auto authority = CertificateAuthority::load(dir + "/ca", true);
        ca = authority->certificate();
        server = std::make_unique<TlsServerContext>(std::move(authority), 2);
    }
    ~Fixture() { std::filesystem::remove_all(dir); }
};

// Runs the handshake to its end; returns the server's last status.
TlsSession::Status handshake(Client& c, TlsSession& s, std::string& plain) {
    auto status = TlsSession::Status::Ok;
    for (int i = 0; i < 10; ++i) {
        int rc = SSL_do_handshake(c.ssl);
        std::string to_server = c.take();
        if (!to_server.empty()) {
            std::string wire;
            status = s.on_ciphertext(to_server.data(), to_server.size(), plain, wire);
            c.give(wire);
            if (status != TlsSession::Status::Ok) return status;
        }
        if (rc == 1 && s.handshake_done()) return status;
    }
    return status;
}

}  // namespace

TEST_CASE("proxy/tls/tls_session: handshake, ALPN http/1.1, data both ways, close_notify") {
    Fixture f;
    std::string error;
    auto session = f.server->new_session("huggingface.co", error);
    REQUIRE(session);
    Client client(f.ca, "huggingface.co", "huggingface.co");
    std::string plain;
    CHECK(handshake(client, *session, plain) == TlsSession::Status::Ok);
    REQUIRE(session->handshake_done());
    CHECK(SSL_get_verify_result(client.ssl) == X509_V_OK);
    const unsigned char* alpn = nullptr;
    unsigned alpn_len = 0;
    SSL_get0_alpn_selected(client.ssl, &alpn, &alpn_len);
    CHECK(std::string(reinterpret_cast<const char*>(alpn), alpn_len) == "http/1.1");
    CHECK(session->server_name() == "huggingface.co");

    const std::string request = "GET /a HTTP/1.1\r\nHost: huggingface.co\r\n\r\n";
    SSL_write(client.ssl, request.data(), static_cast<int>(request.size()));
    std::string wire, in = client.take();
    CHECK(session->on_ciphertext(in.data(), in.size(), plain, wire) == TlsSession::Status::Ok);
    CHECK(plain == request);

    std::string body(300000, 'x');
    wire.clear();
    REQUIRE(session->encrypt(body, wire));
    CHECK(wire.size() > body.size());
    client.give(wire);
    std::string got(body.size(), '\0');
    size_t n = 0;
    while (n < got.size()) {
        int r = SSL_read(client.ssl, got.data() + n, static_cast<int>(got.size() - n));
        REQUIRE(r > 0);
        n += static_cast<size_t>(r);
    }
    CHECK(got == body);

    wire.clear();
    session->shutdown(wire);
    client.give(wire);
    char c;
    CHECK(SSL_read(client.ssl, &c, 1) <= 0);
    CHECK(SSL_get_error(client.ssl, 0) == SSL_ERROR_ZERO_RETURN);

    SSL_shutdown(client.ssl);
    in = client.take();
    plain.clear();
    CHECK(session->on_ciphertext(in.data(), in.size(), plain, wire) == TlsSession::Status::Closed);
}

TEST_CASE("proxy/tls/tls_session: an IP target without SNI gets an IP certificate") {
    Fixture f;
    std::string error;
    auto session = f.server->new_session("127.0.0.1", error);
    REQUIRE(session);
    Client client(f.ca, nullptr, nullptr);
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(client.ssl), "127.0.0.1");
    std::string plain;
    CHECK(handshake(client, *session, plain) == TlsSession::Status::Ok);
    CHECK(session->handshake_done());
    CHECK(SSL_get_verify_result(client.ssl) == X509_V_OK);
}

TEST_CASE("proxy/tls/tls_session: SNI naming another host fails the handshake") {
    Fixture f;
    std::string error;
    auto session = f.server->new_session("huggingface.co", error);
    REQUIRE(session);
    Client client(f.ca, "evil.example", "evil.example");
    std::string plain;
    CHECK(handshake(client, *session, plain) == TlsSession::Status::Failed);
    CHECK(session->error().find("SNI 'evil.example'") != std::string::npos);
    CHECK_FALSE(session->handshake_done());
}

TEST_CASE("proxy/tls/tls_session: garbage instead of a ClientHello fails") {
    Fixture f;
    std::string error;
    auto session = f.server->new_session("huggingface.co", error);
    REQUIRE(session);
    std::string plain, wire;
    const std::string junk = "GET / HTTP/1.1\r\nHost: huggingface.co\r\n\r\n";
    CHECK(session->on_ciphertext(junk.data(), junk.size(), plain, wire) ==
          TlsSession::Status::Failed);
    CHECK_FALSE(session->error().empty());
    CHECK(plain.empty());
}

TEST_CASE("proxy/tls/tls_session: the leaf cache is bounded") {
    Fixture f;  // room for two leaves
    std::string error;
    for (const char* host : {"a.hf.co", "b.hf.co", "c.hf.co", "a.hf.co"})
        CHECK(f.server->new_session(host, error));
    CHECK(f.server->cached_leaves() == 2);
}
