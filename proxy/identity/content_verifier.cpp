#include "proxy/identity/content_verifier.h"

#include <vector>

#include "proxy/loop/worker.h"

namespace proxy {

namespace detail {

ContentVerdict hash_stored_object(cache::Store& store, const cache::ObjectInfo& object) {
    ContentVerdict v;
    v.read_back = true;
    const double cpu_start = thread_cpu_seconds();  // the whole job: reads, XXH3 and sha256
    Sha256 sha;
    if (!sha.ok()) return v;
    std::vector<std::byte> buffer(object.chunk_size);
    for (uint64_t i = 0; i < object.chunk_count(); ++i) {
        auto n = store.read_chunk(object, static_cast<uint32_t>(i), buffer);
        if (!n) {  // lost or corrupt: the record is dropped, the object is no longer complete
            v.record = policy::fail(n.error());
            v.cpu_seconds = thread_cpu_seconds() - cpu_start;
            return v;
        }
        sha.update(std::span<const std::byte>(buffer.data(), *n));
    }
    v.sha256 = sha.finish();
    v.bytes = sha.bytes();
    v.cpu_seconds = thread_cpu_seconds() - cpu_start;
    return v;
}

}  // namespace detail

namespace {

ContentVerdict finish_inline(Sha256& sha) {
    ContentVerdict v;
    v.sha256 = sha.finish();
    v.bytes = sha.bytes();
    v.cpu_seconds = sha.cpu_seconds();
    return v;
}

}  // namespace

void verify_content(uv_loop_t* loop, cache::Store& store, const cache::ObjectInfo& object,
                    const std::string& announced, std::shared_ptr<Sha256> hashed,
                    std::function<void(ContentVerdict)> done) {
    auto verdict = std::make_shared<ContentVerdict>();
    cache::Store* s = &store;
    run_on_worker(
        loop,
        [s, object, announced, verdict, hashed = std::move(hashed)] {
            *verdict = hashed ? finish_inline(*hashed) : detail::hash_stored_object(*s, object);
            if (verdict->sha256.empty()) {
                if (verdict->record) verdict->record = policy::fail(cache::Error{cache::Errc::Io});
                return;
            }
            verdict->check = announced.empty()              ? cache::ContentCheck::Unverified
                             : announced == verdict->sha256 ? cache::ContentCheck::Verified
                                                            : cache::ContentCheck::Mismatch;
            verdict->record = s->set_content(object, verdict->check, verdict->sha256, announced);
        },
        [verdict, done = std::move(done)] { done(std::move(*verdict)); });
}

}  // namespace proxy
