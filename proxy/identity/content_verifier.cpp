#include "proxy/identity/content_verifier.h"

#include <openssl/evp.h>

#include <ctime>
#include <memory>
#include <vector>

#include "proxy/loop/worker.h"

namespace proxy {

namespace {

double thread_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

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

namespace detail {

ContentVerdict hash_stored_object(cache::Store& store, const cache::ObjectInfo& object) {
    ContentVerdict v;
    const double cpu_start = thread_cpu_seconds();
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) return v;
    std::vector<std::byte> buffer(object.chunk_size);
    for (uint64_t i = 0; i < object.chunk_count(); ++i) {
        auto n = store.read_chunk(object, static_cast<uint32_t>(i), buffer);
        if (!n) {  // lost or corrupt: the record is dropped, the object is no longer complete
            v.record = policy::fail(n.error());
            v.cpu_seconds = thread_cpu_seconds() - cpu_start;
            return v;
        }
        EVP_DigestUpdate(ctx.get(), buffer.data(), *n);
        v.bytes += *n;
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned size = 0;
    EVP_DigestFinal_ex(ctx.get(), digest, &size);
    v.sha256 = to_hex(digest, size);
    v.cpu_seconds = thread_cpu_seconds() - cpu_start;
    return v;
}

}  // namespace detail

void verify_content(uv_loop_t* loop, cache::Store& store, const cache::ObjectInfo& object,
                    const std::string& announced, std::function<void(ContentVerdict)> done) {
    auto verdict = std::make_shared<ContentVerdict>();
    cache::Store* s = &store;
    run_on_worker(
        loop,
        [s, object, announced, verdict] {
            *verdict = detail::hash_stored_object(*s, object);
            if (verdict->sha256.empty()) return;
            verdict->check = announced.empty()              ? cache::ContentCheck::Unverified
                             : announced == verdict->sha256 ? cache::ContentCheck::Verified
                                                            : cache::ContentCheck::Mismatch;
            verdict->record = s->set_content(object, verdict->check, verdict->sha256, announced);
        },
        [verdict, done = std::move(done)] { done(std::move(*verdict)); });
}

}  // namespace proxy
