// FillSha256: the sha256 of an object computed while its fill writes it (docs/model-hosts.md
// "Verification"), so that a cold download from byte 0 is judged without reading it back.
//
// The hash covers chunks 0, 1, 2, ... in order, each exactly once, as the fill's write jobs hand
// them to the store: a worker job beside the one that writes a batch of chunks hashes the ones
// take() gave it, and they count once both jobs ended and the write succeeded
// (Fetch::maybe_stage). The loop side decides which
// chunks continue the hash; anything else ends the inline hash of this fill for good and the
// read-back (content_verifier.h) judges the object, as before:
//   - NotWanted:   nothing announced a digest and content_sha256 is "announced" (the default):
//                  no hash is made, none of its CPU spent (Fetch::wants_sha256);
//   - NotBegun:    the fill did not start a new object at byte 0 (it completes a stored partial
//                  object, e.g. after a restart of dlproxy, or a complete one is hit unhashed);
//   - OutOfOrder:  a chunk beyond the next one (a range fill, a cold range, a fill resumed
//                  behind chunks already stored);
//   - Rewritten:   a chunk already hashed was written again (lost on disk and filled anew);
//   - WriteFailed: a write job failed (it hashed nothing: the hash would skip its chunks);
//   - Overlap:     a write job was taken while another still held the context. Write jobs run
//                  one at a time per fetch (chunk_pipeline.h), and libuv's pool has several
//                  threads, so this is the guard that keeps one context from ever being
//                  advanced by two threads at once, should that rule change;
//   - HandedOver:  the context went to the verdict (take_covering).
//
// Thread: the loop thread, except Job::add, which runs in the hash job take() was asked for.
// The context is shared with that job (it lives until both are done with it); the next job is
// taken only after job_done(), which the loop runs after the hash and the write returned.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "proxy/identity/sha256.h"

namespace proxy {

class FillSha256 {
  public:
    enum class Gap {
        None,
        NotWanted,
        NotBegun,
        OutOfOrder,
        Rewritten,
        WriteFailed,
        Overlap,
        HandedOver
    };

    // What one write job hashes: the first `chunks` chunks of its batch, in batch order.
    struct Job {
        std::shared_ptr<Sha256> sha;
        size_t chunks = 0;
        explicit operator bool() const { return sha && chunks > 0; }
        // Worker: the next chunk's bytes, once written.
        void add(std::span<const std::byte> bytes) const { sha->update(bytes); }
    };

    // A new object is filled from byte 0 (Fetch::on_new_object): hash from chunk 0 afresh. A job
    // still running for an earlier object keeps its own context, which is then dropped.
    void begin();
    // A new object is filled from byte 0 that nobody wants a sha256 of: no context (NotWanted).
    void skip();
    // The chunks one write job is about to write, in its order: what the job hashes (maybe
    // nothing). Ends the inline hash when they do not continue it.
    Job take(std::span<const uint32_t> indices);
    // The batch ended; `written`: its writes succeeded and it hashed what take() gave it.
    void job_done(const Job& job, bool written);

    // Every one of `chunk_count` chunks hashed in order and no job running: hands the context
    // over, for finish() on a worker, and the inline hash of this fill ends (HandedOver).
    // nullptr otherwise, and gap() says why.
    std::shared_ptr<Sha256> take_covering(uint64_t chunk_count);
    Gap gap() const { return gap_; }
    uint64_t hashed_chunks() const { return next_; }  // taken so far (in order from chunk 0)

  private:
    void end(Gap why);

    std::shared_ptr<Sha256> sha_;  // null when not begun or ended
    uint32_t next_ = 0;            // the next chunk index the hash needs
    bool in_job_ = false;          // a write job holds sha_
    Gap gap_ = Gap::NotBegun;
};

std::string_view to_string(FillSha256::Gap gap);

}  // namespace proxy
