#include "proxy/tls/certificate_authority.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "proxy/tls/openssl_error.h"

namespace proxy::tls {

namespace {

namespace fs = std::filesystem;

constexpr long kCaLifetimeSeconds = 10L * 365 * 24 * 3600;
constexpr long kBackdateSeconds = 3600;

bool exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw CaError("cannot read '" + path + "'");
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// Writes `data` to `path` through a temporary file and a rename, so a reader never sees half a
// file; the file is created with `mode` (never wider, whatever the umask).
void write_file_atomic(const std::string& path, const std::string& data, mode_t mode) {
    const std::string tmp = path + ".tmp";
    ::unlink(tmp.c_str());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) throw CaError("cannot create '" + tmp + "': " + std::strerror(errno));
    ::fchmod(fd, mode);
    size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            int err = errno;
            ::close(fd);
            ::unlink(tmp.c_str());
            throw CaError("cannot write '" + tmp + "': " + std::strerror(err));
        }
        done += static_cast<size_t>(n);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
        ::unlink(tmp.c_str());
        throw CaError("cannot write '" + path + "': " + std::strerror(errno));
    }
}

template <class Writer>
std::string to_pem(Writer&& write) {
    BIO* bio = BIO_new(BIO_s_mem());
    if (!bio || !write(bio)) {
        BIO_free(bio);
        throw CaError("cannot encode PEM: " + openssl_error("unknown OpenSSL error"));
    }
    char* data = nullptr;
    long size = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<size_t>(size));
    BIO_free(bio);
    return out;
}

bool set_random_serial(X509* cert) {
    unsigned char bytes[16];
    if (RAND_bytes(bytes, sizeof bytes) != 1) return false;
    bytes[0] &= 0x7f;  // positive (RFC 5280 §4.1.2.2)
    BIGNUM* bn = BN_bin2bn(bytes, sizeof bytes, nullptr);
    bool ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != nullptr;
    BN_free(bn);
    return ok;
}

bool add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    if (!ext) return false;
    bool ok = X509_add_ext(cert, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    return ok;
}

bool set_validity(X509* cert, std::time_t now, long lifetime) {
    return X509_time_adj_ex(X509_getm_notBefore(cert), 0, -kBackdateSeconds, &now) &&
           X509_time_adj_ex(X509_getm_notAfter(cert), 0, lifetime, &now);
}

bool is_ip_literal(const std::string& host) {
    unsigned char buf[16];
    return inet_pton(AF_INET, host.c_str(), buf) == 1 ||
           inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

std::string ca_common_name() {
    char host[256] = "localhost";
    gethostname(host, sizeof host - 1);
    unsigned char tag[4] = {};
    RAND_bytes(tag, sizeof tag);
    char hex[9];
    std::snprintf(hex, sizeof hex, "%02x%02x%02x%02x", tag[0], tag[1], tag[2], tag[3]);
    // A per-CA tag keeps two dlproxy CAs apart in a system store (CN is at most 64 bytes).
    return ("dlproxy CA " + std::string(hex) + " " + host).substr(0, 64);
}

// Refuses a key that group or others can read: interception is only as safe as this key.
void check_key_mode(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        throw CaError("cannot stat '" + path + "': " + std::strerror(errno));
    if (st.st_mode & 077) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        throw CaError("CA key '" + path + "' has mode " + mode +
                      " (readable by group or others): refusing to use it; fix with chmod 600 '" +
                      path + "' or create a new CA with `dlproxyctl ca init --force`");
    }
}

void write_bundle(const CaPaths& paths) {
    std::string bundle;
    const std::string system = system_ca_file();
    if (exists(system)) {
        bundle = read_file(system);
        if (!bundle.empty() && bundle.back() != '\n') bundle += '\n';
    }
    bundle += "# dlproxy's interception CA (" + paths.cert + ")\n" + read_file(paths.cert);
    if (exists(paths.bundle) && read_file(paths.bundle) == bundle) return;
    write_file_atomic(paths.bundle, bundle, 0644);
}

}  // namespace

CaPaths ca_paths(const std::string& dir) {
    return {dir, dir + "/ca.key", dir + "/ca.pem", dir + "/bundle.pem"};
}

std::string effective_ca_dir(const std::string& cache_dir, const std::string& ca_dir) {
    return ca_dir.empty() ? cache_dir + "/ca" : ca_dir;
}

std::string system_ca_file() {
    const curl_version_info_data* info = curl_version_info(CURLVERSION_NOW);
    if (info && info->cainfo && *info->cainfo) return info->cainfo;
    return "/etc/ssl/certs/ca-certificates.crt";
}

PkeyPtr new_p256_key() {
    return PkeyPtr(EVP_EC_gen("P-256"));
}

void CertificateAuthority::create(const std::string& dir, bool force) {
    const CaPaths paths = ca_paths(dir);
    if (!force && (exists(paths.key) || exists(paths.cert)))
        throw CaError("a CA already exists in '" + dir + "' (--force replaces it)");
    std::error_code ec;
    if (!fs::exists(dir, ec)) {
        fs::create_directories(dir, ec);
        if (ec) throw CaError("cannot create '" + dir + "': " + ec.message());
        ::chmod(dir.c_str(), 0700);
    }
    PkeyPtr key = new_p256_key();
    X509Ptr cert(X509_new());
    if (!key || !cert)
        throw CaError("cannot generate the CA key: " + openssl_error("unknown OpenSSL error"));
    X509* c = cert.get();
    X509_NAME* name = X509_get_subject_name(c);
    const std::string cn = ca_common_name();
    const bool ok =
        X509_set_version(c, 2) && set_random_serial(c) &&
        set_validity(c, std::time(nullptr), kCaLifetimeSeconds) &&
        X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>("dlproxy"), -1, -1, 0) &&
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0) &&
        X509_set_issuer_name(c, name) && X509_set_pubkey(c, key.get()) &&
        add_ext(c, c, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") &&
        add_ext(c, c, NID_key_usage, "critical,keyCertSign,cRLSign") &&
        add_ext(c, c, NID_subject_key_identifier, "hash") &&
        add_ext(c, c, NID_authority_key_identifier, "keyid:always") &&
        X509_sign(c, key.get(), EVP_sha256()) > 0;
    if (!ok)
        throw CaError("cannot build the CA certificate: " + openssl_error("unknown OpenSSL error"));

    std::string key_pem = to_pem([&](BIO* b) {
        return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
    });
    std::string cert_pem = to_pem([&](BIO* b) { return PEM_write_bio_X509(b, c) == 1; });
    // The certificate first: a crash in between leaves a certificate without a key, which load()
    // reports, never a key nobody knows the certificate of.
    write_file_atomic(paths.cert, cert_pem, 0600);
    write_file_atomic(paths.key, key_pem, 0600);
    OPENSSL_cleanse(key_pem.data(), key_pem.size());
    write_bundle(paths);
}

std::unique_ptr<CertificateAuthority> CertificateAuthority::load(const std::string& dir,
                                                                 bool create_missing,
                                                                 bool* created) {
    const CaPaths paths = ca_paths(dir);
    if (created) *created = false;
    const bool have_key = exists(paths.key), have_cert = exists(paths.cert);
    // create() writes the certificate first, so a crash in between leaves ca.pem without
    // ca.key. That certificate can sign nothing: replace it rather than refuse to start forever.
    if (!have_key && create_missing) {
        create(dir, have_cert);
        if (created) *created = true;
    } else if (!have_key || !have_cert) {
        throw CaError(!have_key && !have_cert
                          ? "no CA in '" + dir + "' (create one with `dlproxyctl ca init`)"
                          : "incomplete CA in '" + dir +
                                "': " + (have_key ? paths.cert : paths.key) +
                                " is missing (`dlproxyctl ca init --force` makes a new CA)");
    }
    check_key_mode(paths.key);

    std::unique_ptr<CertificateAuthority> ca(new CertificateAuthority());
    ca->paths_ = paths;
    BIO* bio = BIO_new_file(paths.key.c_str(), "r");
    if (bio) ca->key_.reset(PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr));
    BIO_free(bio);
    if (!ca->key_)
        throw CaError("cannot read the CA key '" + paths.key +
                      "': " + openssl_error("unknown OpenSSL error"));
    bio = BIO_new_file(paths.cert.c_str(), "r");
    if (bio) ca->cert_.reset(PEM_read_bio_X509(bio, nullptr, nullptr, nullptr));
    BIO_free(bio);
    if (!ca->cert_)
        throw CaError("cannot read the CA certificate '" + paths.cert +
                      "': " + openssl_error("unknown OpenSSL error"));
    if (X509_check_private_key(ca->cert_.get(), ca->key_.get()) != 1) {
        ERR_clear_error();
        throw CaError("'" + paths.key + "' is not the key of '" + paths.cert + "'");
    }
    write_bundle(paths);
    return ca;
}

std::string CertificateAuthority::subject() const {
    char buf[256];
    X509_NAME_oneline(X509_get_subject_name(cert_.get()), buf, sizeof buf);
    return buf;
}

std::string CertificateAuthority::sha256_fingerprint() const {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    X509_digest(cert_.get(), EVP_sha256(), md, &len);
    std::string out;
    char hex[4];
    for (unsigned i = 0; i < len; ++i) {
        std::snprintf(hex, sizeof hex, i ? ":%02X" : "%02X", md[i]);
        out += hex;
    }
    return out;
}

std::string CertificateAuthority::not_after() const {
    return to_pem([&](BIO* b) { return ASN1_TIME_print(b, X509_get0_notAfter(cert_.get())) == 1; });
}

X509Ptr CertificateAuthority::mint_leaf(std::string_view host_view, EVP_PKEY* public_key,
                                        std::time_t now) const {
    const std::string host(host_view);
    X509Ptr cert(X509_new());
    if (!cert) return nullptr;
    X509* c = cert.get();
    X509_NAME* name = X509_get_subject_name(c);
    // CN is capped at 64 bytes (RFC 5280 upper bound); clients match the SAN anyway.
    const std::string cn = host.substr(0, 64);
    const std::string san = (is_ip_literal(host) ? "IP:" : "DNS:") + host;
    const bool ok =
        X509_set_version(c, 2) && set_random_serial(c) &&
        set_validity(c, now, kLeafLifetimeSeconds) &&
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0) &&
        X509_set_issuer_name(c, X509_get_subject_name(cert_.get())) &&
        X509_set_pubkey(c, public_key) && add_ext(c, cert_.get(), NID_subject_alt_name, san) &&
        add_ext(c, cert_.get(), NID_basic_constraints, "critical,CA:FALSE") &&
        add_ext(c, cert_.get(), NID_key_usage, "critical,digitalSignature") &&
        add_ext(c, cert_.get(), NID_ext_key_usage, "serverAuth") &&
        add_ext(c, cert_.get(), NID_subject_key_identifier, "hash") &&
        add_ext(c, cert_.get(), NID_authority_key_identifier, "keyid:always") &&
        X509_sign(c, key_.get(), EVP_sha256()) > 0;
    if (!ok) return nullptr;
    return cert;
}

}  // namespace proxy::tls
