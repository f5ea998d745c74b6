// verify_content: the end-to-end check of a complete object (docs/model-hosts.md
// "Verification"). On a worker thread it reads every chunk back from the store (each read checks
// its XXH3 first), computes the sha256 of the whole body, compares it with the digest the
// origin announced, and records the verdict in the object's record (Store::set_content).
//
// Why the stored bytes and not the stream: what a later hit serves is what is on disk, and a
// fill made of several upstream responses (resumes, range fills, a restart in between) is
// checked the same way as one made in a single response. The re-read costs page-cache reads
// (the chunks were just written); the figure is in docs/model-hosts.md.
//
// Thread: call on the loop thread; `done` runs there too. The job keeps what it needs alive
// itself (the store must outlive it, as for every worker job).
#pragma once

#include <uv.h>

#include <functional>
#include <string>

#include "cache/store.h"

namespace proxy {

struct ContentVerdict {
    cache::Result<cache::ObjectInfo> record = cache::ObjectInfo{};  // the updated record
    cache::ContentCheck check = cache::ContentCheck::Unverified;
    std::string sha256;      // computed, hex; empty when the bytes could not be read
    double cpu_seconds = 0;  // thread CPU time the job spent
    uint64_t bytes = 0;      // bytes hashed
};

// `announced`: 64 lower-case hex digits, or empty when nothing was announced (the object is
// then recorded Unverified with its computed sha256).
void verify_content(uv_loop_t* loop, cache::Store& store, const cache::ObjectInfo& object,
                    const std::string& announced, std::function<void(ContentVerdict)> done);

// The sha256 of `bytes`' chunks as read back from the store (the worker half, for tests).
namespace detail {
ContentVerdict hash_stored_object(cache::Store& store, const cache::ObjectInfo& object);
}

}  // namespace proxy
