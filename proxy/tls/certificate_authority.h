// CertificateAuthority: dlproxy's local CA for TLS interception (docs/https.md).
//
// The CA lives in one directory: ca.key (the private key, PEM, mode 0600), ca.pem (the
// certificate, mode 0600) and bundle.pem (the system trust store followed by ca.pem, for clients
// such as Python requests whose CA option replaces rather than extends their trust store).
// The key is ECDSA P-256; it never leaves that directory and is never logged.
//
// Shared by dlproxy (loads or creates the CA at start-up, mints leaf certificates on the loop
// thread) and dlproxyctl (`ca init`, `ca show`). Depends on OpenSSL and the file system only.
// Start-up functions throw CaError with one clear line; mint_leaf() never throws.
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <ctime>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace proxy::tls {

struct CaError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct X509Free {
    void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

struct CaPaths {
    std::string dir, key, cert, bundle;
};
CaPaths ca_paths(const std::string& dir);

// "<cache_dir>/ca" unless `ca_dir` is set.
std::string effective_ca_dir(const std::string& cache_dir, const std::string& ca_dir);

// The system trust store as one PEM file (libcurl's built-in CA bundle, else Debian's path).
std::string system_ca_file();

// Leaf certificates are valid from one hour in the past (clients with a slow clock) to this
// many seconds ahead: short, so a leaked leaf is soon worthless.
constexpr long kLeafLifetimeSeconds = 7 * 24 * 3600;

class CertificateAuthority {
  public:
    // Loads the CA from `dir`; when ca.key is absent and `create` is set, creates the CA first
    // (a ca.pem without its key, left by a crash during creation, is replaced). Rewrites bundle.pem
    // when it is missing or out of date. Throws CaError when the key is readable by group or
    // others, when the files are unreadable, inconsistent or only half there, or when they cannot
    // be created. `created` (optional) reports whether a new CA was made.
    static std::unique_ptr<CertificateAuthority> load(const std::string& dir, bool create,
                                                      bool* created = nullptr);

    // Creates a new CA in `dir`, replacing an existing one only when `force` (the old files are
    // then gone for good: clients that trusted them must trust the new ca.pem).
    static void create(const std::string& dir, bool force);

    const CaPaths& paths() const { return paths_; }
    X509* certificate() const { return cert_.get(); }
    std::string subject() const;
    std::string sha256_fingerprint() const;  // "AB:CD:..."
    std::string not_after() const;           // "2036-11-22 22:40:00 UTC"

    // A server certificate for `host` (a DNS name, or an IP literal which gets an IP SAN) over
    // `public_key`, signed by this CA, valid [now - 1 h, now + kLeafLifetimeSeconds). Null on
    // failure (OpenSSL's error queue says why).
    X509Ptr mint_leaf(std::string_view host, EVP_PKEY* public_key, std::time_t now) const;

  private:
    CertificateAuthority() = default;
    CaPaths paths_;
    PkeyPtr key_;
    X509Ptr cert_;
};

// A fresh ECDSA P-256 key (for the CA and for leaf certificates). Null on failure.
PkeyPtr new_p256_key();

}  // namespace proxy::tls
