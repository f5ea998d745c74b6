// Sha256: one sha256 computation (OpenSSL EVP) that also counts the bytes it hashed and the
// thread CPU time update() spent, for dlproxy_sha256_cpu_seconds_total (docs/metrics.md).
//
// Thread: any one thread at a time. A context may move between worker jobs when the jobs are
// ordered (one ends on the loop before the next is queued, as FillSha256 arranges); it is never
// updated by two threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace proxy {

class Sha256 {
  public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;

    // False when OpenSSL could not set up the context: update() does nothing, finish() is "".
    bool ok() const { return ctx_ != nullptr; }
    void update(std::span<const std::byte> bytes);
    // The digest, 64 lower-case hex digits ("" when !ok()). Call once; no update() after it.
    std::string finish();

    uint64_t bytes() const { return bytes_; }
    double cpu_seconds() const { return cpu_seconds_; }  // spent in update() and finish()

  private:
    struct Context;
    std::unique_ptr<Context> ctx_;
    uint64_t bytes_ = 0;
    double cpu_seconds_ = 0;
};

// CLOCK_THREAD_CPUTIME_ID in seconds.
double thread_cpu_seconds();

}  // namespace proxy
