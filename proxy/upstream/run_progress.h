// RunProgress and AnswerCheck: where a ResumableTransfer stands in its run, and what it asked of
// the current answer and must drop and check of it (resumable_transfer_head.cpp asks and judges,
// resumable_transfer_body.cpp advances).
//
// - RunProgress: the run of the object the download carries (absent until the owner knows it),
//   the next byte of it the owner needs, and whether the owner's last byte is held for the
//   overlap check. A run set by the owner while it judged a head (set_in_head) makes that answer
//   the run's start: nothing of it is held.
// - AnswerCheck: the current request's resume plan (what a 206 must say to continue:
//   policy::accept_partial), whether it asked for the run at all, the held prefix of its answer
//   (leading bytes the owner already has, the overlap byte to compare; policy::HeldPrefix) and
//   how many of those bytes are sent twice (the overlap excluded), for the recovery's count.
//
// Plain values, reset field by field by the engine as the text of each step says. Thread: the
// loop thread. Owned by its ResumableTransfer.
#pragma once

#include <cstdint>
#include <optional>

#include "policy/resume.h"
#include "proxy/upstream/resume_owner.h"

namespace proxy {

struct RunProgress {
    std::optional<ResumeRun> run;  // what the body is, once known
    uint64_t position = 0;         // next byte of the run the owner needs
    bool have_last_byte = false;   // AnswerCheck::prefix.overlap_byte is the byte before position
    bool set_in_head = false;      // the owner set the run while judging the current head
};

struct AnswerCheck {
    policy::ResumePlan plan;    // the current request's, for accept_partial
    bool ranged = false;        // the current request asked for the run
    policy::HeldPrefix prefix;  // leading bytes of the current answer already delivered
    uint64_t resent = 0;        // bytes of the current answer sent twice (overlap excluded)
};

}  // namespace proxy
