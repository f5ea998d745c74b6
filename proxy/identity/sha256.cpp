#include "proxy/identity/sha256.h"

#include <openssl/evp.h>

#include <ctime>

namespace proxy {

struct Sha256::Context {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md{EVP_MD_CTX_new(), &EVP_MD_CTX_free};
};

namespace {

std::string to_hex(const unsigned char* bytes, unsigned size) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < size; ++i) {
        out.push_back(kDigits[bytes[i] >> 4]);
        out.push_back(kDigits[bytes[i] & 15]);
    }
    return out;
}

}  // namespace

double thread_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

Sha256::Sha256() : ctx_(std::make_unique<Context>()) {
    if (!ctx_->md || EVP_DigestInit_ex(ctx_->md.get(), EVP_sha256(), nullptr) != 1) ctx_.reset();
}

Sha256::~Sha256() = default;

void Sha256::update(std::span<const std::byte> bytes) {
    if (!ctx_) return;
    const double start = thread_cpu_seconds();
    EVP_DigestUpdate(ctx_->md.get(), bytes.data(), bytes.size());
    bytes_ += bytes.size();
    cpu_seconds_ += thread_cpu_seconds() - start;
}

std::string Sha256::finish() {
    if (!ctx_) return {};
    const double start = thread_cpu_seconds();
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned size = 0;
    const bool done = EVP_DigestFinal_ex(ctx_->md.get(), digest, &size) == 1;
    cpu_seconds_ += thread_cpu_seconds() - start;
    ctx_.reset();
    return done ? to_hex(digest, size) : std::string();
}

}  // namespace proxy
