// verify_content: the end-to-end check of a complete object (docs/model-hosts.md
// "Verification"). On a worker thread it finishes the sha256 of the whole body, compares it with
// the digest the origin announced, and records the verdict in the object's record
// (Store::set_content). The sha256 comes one of two ways:
//   - inline: the fill hashed every chunk, in order from byte 0, in the jobs that wrote them
//     (fill_sha256.h): only the digest is left to finish, no byte is read again;
//   - read-back: otherwise (a fill resumed after a restart, range fills, chunks out of order or
//     written twice, a complete object never hashed) every chunk is read back from the store
//     (each read checks its XXH3 first) and hashed.
//
// Why the inline hash may judge what a hit serves from disk: it hashes exactly the buffers the
// same job has just written, and every later read of a chunk checks the XXH3 recorded for those
// bytes, so a chunk that does not read back as written is dropped and fetched again, never
// served. The read-back remains for fills that are not one ordered pass over the object.
//
// Thread: call on the loop thread; `done` runs there too. The job keeps what it needs alive
// itself (the store must outlive it, as for every worker job).
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>

#include "cache/store.h"
#include "proxy/identity/sha256.h"

namespace proxy {

struct ContentVerdict {
    cache::Result<cache::ObjectInfo> record = cache::ObjectInfo{};  // the updated record
    cache::ContentCheck check = cache::ContentCheck::Unverified;
    std::string sha256;      // computed, hex; empty when the bytes could not be read
    bool read_back = false;  // hashed by reading the object back (not inline while filling)
    double cpu_seconds = 0;  // thread CPU time of the hash: the read-back job, or inline jobs
    uint64_t bytes = 0;      // bytes hashed
};

// `announced`: 64 lower-case hex digits, or empty when nothing was announced (the object is
// then recorded Unverified with its computed sha256). `hashed`: the fill's inline hash of every
// byte of `object` (FillSha256::take_covering), or nullptr to read the object back.
void verify_content(uv_loop_t* loop, cache::Store& store, const cache::ObjectInfo& object,
                    const std::string& announced, std::shared_ptr<Sha256> hashed,
                    std::function<void(ContentVerdict)> done);

// The sha256 of `bytes`' chunks as read back from the store (the worker half, for tests).
namespace detail {
ContentVerdict hash_stored_object(cache::Store& store, const cache::ObjectInfo& object);
}

}  // namespace proxy
