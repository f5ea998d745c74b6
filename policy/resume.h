// Resuming an interrupted upstream transfer (DESIGN.md, "Resume"): what the next attempt asks for,
// and whether its answer continues the bytes already received.
//
// The request asks for one byte more than needed, `Range: bytes=<next-1>-`, as apt-cacher-ng
// does: the overlapping byte must equal the one already held, a cheap continuity check. With a
// strong validator the request also carries `If-Range`, so a changed object comes back as a 200
// rather than as a 206 of the wrong bytes. The checks on the answer are nginx's slice module's:
// status, Content-Range exactly where asked, complete length unchanged, validator unchanged.
//
// Without a validator (the origin sent neither a strong ETag nor a strong Last-Modified) a 206 is
// accepted on the evidence of the complete length and the overlapping byte alone; a 200 cannot
// be shown to be the same object and is rejected once bytes are held.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "policy/cacheability.h"
#include "policy/header_list.h"

namespace policy {

struct ResumePlan {
    uint64_t next_offset = 0;   // the first byte the fetch still needs
    uint64_t request_from = 0;  // the first byte asked for: next_offset - 1, or 0 from the start
    std::optional<Validator> validator;  // expected of the answer; sent as If-Range
    HeaderList headers;  // to add to the upstream request: Range and If-Range, or nothing
};

// next_offset == 0 plans a plain request (no Range, no If-Range): nothing is held yet.
ResumePlan plan_resume(uint64_t next_offset, const std::optional<Validator>& validator);

enum class PartialAction {
    Append,   // a 206 that continues the body: the first skip_bytes bytes of its body are already
              // held (the overlap byte); compare them with the stored ones, then append the rest
    Restart,  // a 200 of the same object: discard the first skip_bytes (= next_offset) bytes of
              // its body, then append the rest
    Reject,   // not the same object or not what was asked: invalidate, close clients short
};

enum class PartialReason {
    Continues,          // Append
    SameObject,         // Restart
    UnexpectedStatus,   // neither 200, 206 nor 416 (run the status through classify() first)
    UnexpectedPartial,  // a 206 to a request that had no Range
    BadContentRange,    // missing, malformed, unsatisfied-form or multipart Content-Range, or a
                        // Content-Length that disagrees with it
    WrongStart,         // Content-Range does not begin at request_from
    LengthChanged,      // complete length differs from the expected one (or is not given)
    ValidatorChanged,   // the answer carries a different ETag / Last-Modified
    NoValidator,        // a 200 after bytes were received, and nothing proves it is the same object
    Unsatisfiable,      // 416: the object is now shorter than what was already received
};

std::string_view to_string(PartialReason r);

struct PartialDecision {
    PartialAction action = PartialAction::Reject;
    uint64_t skip_bytes = 0;
    PartialReason reason = PartialReason::UnexpectedStatus;
};

// Judges the answer to a request built from `plan`. `expected_complete_length` is the length of
// the representation the fetch started from, when it was known; the expected validator is
// plan.validator.
PartialDecision accept_partial(const ResumePlan& plan, int status, const HeaderList& response,
                               std::optional<uint64_t> expected_complete_length);

// What a rejected answer to a resume says about the bytes already held (in the cache, or sent to
// a pass-through client). Held bytes were verified when they arrived; only evidence that the
// object itself changed makes them worthless. Anything else -- an error status (an expired
// signed URL's 403, a 404, a 500 or a 503 after the retries), or a 2xx that is malformed or not
// what was asked -- says nothing about the object, and throwing 20 GB away for it would be the
// worst answer: the bytes are kept and the next request resumes after them.
enum class HeldBytes {
    Keep,        // no evidence the object changed: keep every verified chunk
    Invalidate,  // the object changed on the origin: drop the stored chunks
};

enum class ChangeEvidence {
    None,
    ValidatorDiffers,  // a 200 or 206 carrying another ETag / Last-Modified than the expected one
                       // (a 200 to If-Range is the If-Range condition failing, RFC 9110 §13.1.5)
    LengthDiffers,     // a 200's Content-Length or a 206/416 Content-Range complete length is not
                       // the expected complete length (RFC 9110 §14.4)
    Unsatisfiable,     // a 416 naming no complete length, or one shorter than the bytes held: the
                       // object no longer reaches them (RFC 9110 §15.5.17)
    OverlapDiffers,    // the overlap byte differs (drop_held_prefix's mismatch; not judged here)
};

std::string_view to_string(ChangeEvidence e);

struct HeldBytesVerdict {
    HeldBytes action = HeldBytes::Keep;
    ChangeEvidence evidence = ChangeEvidence::None;
};

// Judges an answer that accept_partial() rejected (same arguments). Only 200, 206 and 416 can
// carry evidence: the validators and lengths of any other status describe an error page, not the
// object. A validator field is evidence only when present (an answer may omit it), a length only
// when known (chunked, `*`).
HeldBytesVerdict judge_held_bytes(const ResumePlan& plan, int status, const HeaderList& response,
                                  std::optional<uint64_t> expected_complete_length);

// The overlap byte of an Append differed: the same ETag over other bytes (a broken origin).
inline HeldBytesVerdict overlap_differs() {
    return {HeldBytes::Invalidate, ChangeEvidence::OverlapDiffers};
}

// The leading bytes of an accepted answer that are already held (PartialDecision::skip_bytes),
// dropped piece by piece as they arrive; with `check_overlap` (an Append) the last of them is
// the overlap byte and must equal `overlap_byte`, the last byte held. Shared by the cache fill
// and the pass-through resume.
struct HeldPrefix {
    uint64_t skip = 0;
    bool check_overlap = false;
    unsigned char overlap_byte = 0;
};

struct PrefixStep {
    size_t dropped = 0;     // leading bytes of this piece to drop
    bool mismatch = false;  // the overlap byte differs: not the same object, stop
};

// Consumes the held prefix from `piece` (updates `prefix`).
PrefixStep drop_held_prefix(HeldPrefix& prefix, const unsigned char* piece, size_t size);

}  // namespace policy
