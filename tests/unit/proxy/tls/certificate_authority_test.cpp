#include "proxy/tls/certificate_authority.h"

#include <doctest/doctest.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

using proxy::tls::CaError;
using proxy::tls::CertificateAuthority;

namespace {

struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/dlproxy-ca-test-XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
};

unsigned mode_of(const std::string& path) {
    struct stat st {};
    REQUIRE(stat(path.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// Verifies `leaf` against `ca` alone, as a client trusting only ca.pem would.
bool verifies(X509* leaf, X509* ca) {
    X509_STORE* store = X509_STORE_new();
    X509_STORE_add_cert(store, ca);
    X509_STORE_CTX* ctx = X509_STORE_CTX_new();
    X509_STORE_CTX_init(ctx, store, leaf, nullptr);
    X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(ctx), X509_V_FLAG_X509_STRICT);
    bool ok = X509_verify_cert(ctx) == 1;
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return ok;
}

}  // namespace

TEST_CASE("proxy/tls/certificate_authority: created with private modes, loaded again") {
    TempDir tmp;
    const std::string dir = tmp.path + "/ca";
    bool created = false;
    auto ca = CertificateAuthority::load(dir, true, &created);
    CHECK(created);
    CHECK(mode_of(dir + "/ca.key") == 0600);
    CHECK(mode_of(dir + "/ca.pem") == 0600);
    CHECK(mode_of(dir) == 0700);
    const std::string pem = slurp(dir + "/ca.pem");
    CHECK(slurp(dir + "/bundle.pem").find(pem) != std::string::npos);
    CHECK(ca->subject().find("dlproxy CA") != std::string::npos);

    auto again = CertificateAuthority::load(dir, true, &created);
    CHECK_FALSE(created);
    CHECK(again->sha256_fingerprint() == ca->sha256_fingerprint());
    CHECK_THROWS_AS(CertificateAuthority::create(dir, false), CaError);
    CertificateAuthority::create(dir, true);
    CHECK(CertificateAuthority::load(dir, false)->sha256_fingerprint() != ca->sha256_fingerprint());
}

TEST_CASE("proxy/tls/certificate_authority: refuses a readable key and a half CA") {
    TempDir tmp;
    const std::string dir = tmp.path + "/ca";
    CHECK_THROWS_AS(CertificateAuthority::load(dir, false), CaError);
    CertificateAuthority::create(dir, false);
    chmod((dir + "/ca.key").c_str(), 0640);
    try {
        CertificateAuthority::load(dir, true);
        FAIL("a group-readable key was accepted");
    } catch (const CaError& e) {
        CHECK(std::string(e.what()).find("readable by group or others") != std::string::npos);
        CHECK(std::string(e.what()).find("PRIVATE") == std::string::npos);
    }
    chmod((dir + "/ca.key").c_str(), 0600);
    CHECK_NOTHROW(CertificateAuthority::load(dir, false));
    std::filesystem::remove(dir + "/ca.pem");
    CHECK_THROWS_AS(CertificateAuthority::load(dir, true), CaError);  // never silently replaced

    // A certificate without its key (a crash while creating) is replaced when creating is
    // allowed, refused otherwise.
    TempDir tmp2;
    const std::string dir2 = tmp2.path + "/ca";
    CertificateAuthority::create(dir2, false);
    std::filesystem::remove(dir2 + "/ca.key");
    CHECK_THROWS_AS(CertificateAuthority::load(dir2, false), CaError);
    bool created = false;
    CHECK_NOTHROW(CertificateAuthority::load(dir2, true, &created));
    CHECK(created);
    CHECK(mode_of(dir2 + "/ca.key") == 0600);
}

TEST_CASE("proxy/tls/certificate_authority: leaves verify for their host only") {
    TempDir tmp;
    auto ca = CertificateAuthority::load(tmp.path + "/ca", true);
    auto key = proxy::tls::new_p256_key();
    REQUIRE(key);
    const std::time_t now = std::time(nullptr);

    auto leaf = ca->mint_leaf("cdn-lfs.huggingface.co", key.get(), now);
    REQUIRE(leaf);
    CHECK(verifies(leaf.get(), ca->certificate()));
    CHECK(X509_check_host(leaf.get(), "cdn-lfs.huggingface.co", 0, 0, nullptr) == 1);
    CHECK(X509_check_host(leaf.get(), "huggingface.co", 0, 0, nullptr) != 1);
    CHECK(X509_cmp_time(X509_get0_notBefore(leaf.get()), nullptr) < 0);  // already valid
    std::time_t in_8_days = now + 8 * 24 * 3600;
    CHECK(X509_cmp_time(X509_get0_notAfter(leaf.get()), &in_8_days) < 0);  // short-lived

    auto ip = ca->mint_leaf("127.0.0.1", key.get(), now);
    REQUIRE(ip);
    CHECK(verifies(ip.get(), ca->certificate()));
    CHECK(X509_check_ip_asc(ip.get(), "127.0.0.1", 0) == 1);

    // Another CA's leaf does not verify against this one.
    TempDir other_dir;
    auto other = CertificateAuthority::load(other_dir.path + "/ca", true);
    auto foreign = other->mint_leaf("huggingface.co", key.get(), now);
    CHECK_FALSE(verifies(foreign.get(), ca->certificate()));
}
