// ResumableTransfer: asking for the run and judging the answer's head. The request for the rest
// of a run asks one byte early when the byte before is held (the overlap check) and carries
// If-Range (prepare_ranged); its answer is judged by policy::accept_partial, then by the owner
// (ResumeOwner::on_resume_head); a refused answer ends the download as ObjectChanged or
// ResumeRefused, as policy::judge_held_bytes says (refuse).
#include <spdlog/spdlog.h>

#include <string>

#include "policy/byte_range.h"
#include "proxy/upstream/resumable_transfer.h"

namespace proxy {

// The request for the run from progress_.position: one byte early when the byte before is held (the
// overlap check), the range up to the run's end, If-Range with the validator. `always_range`:
// a run the owner asked for (it may start at 0 and end before the object does); a resume from
// byte 0 asks for the object plainly.
void ResumableTransfer::prepare_ranged(bool always_range) {
    answer_.plan = policy::plan_resume(progress_.position, progress_.run->validator);
    if (!progress_.have_last_byte) answer_.plan.request_from = progress_.position;
    answer_.plan.headers.clear();
    if (always_range || progress_.position > 0) {
        answer_.plan.headers.push_back(
            {"Range", policy::format_range_header(
                          policy::ByteRange{answer_.plan.request_from, progress_.run->end})});
        if (progress_.run->validator)
            answer_.plan.headers.push_back({"If-Range", progress_.run->validator->value});
    }
    sent_ = request_;
    policy::remove_header(sent_.headers, "range");
    policy::remove_header(sent_.headers, "if-range");
    for (const auto& h : answer_.plan.headers)
        sent_.headers.push_back(h);
    answer_.ranged = true;
}

void ResumableTransfer::on_upstream_head(int status, std::string_view reason,
                                         const policy::HeaderList& headers) {
    const uint64_t gen = generation_;
    if (policy::retryable_status(status)) {
        if (plan_retry(policy::FailureKind::HttpStatus, status,
                       policy::find_header(headers, "retry-after"),
                       "status " + std::to_string(status), nullptr))
            return;  // its body is dropped
    }
    std::optional<policy::PartialDecision> partial;
    if (answer_.ranged)
        partial =
            policy::accept_partial(answer_.plan, status, headers, progress_.run->complete_length);
    progress_.set_in_head = false;
    const HeadAnswer answer = owner_.on_resume_head({status, reason, headers, partial});
    if (gen != generation_) return;  // the owner stopped, restarted or took the transfer
    const bool rejected = partial && partial->action == policy::PartialAction::Reject;
    if (answer == HeadAnswer::Taken) {
        retire();
        return;
    }
    if (answer == HeadAnswer::Refuse || (rejected && !progress_.set_in_head)) {
        refuse(status, headers,
               partial ? partial->reason : policy::PartialReason::UnexpectedStatus);
        return;
    }
    head_accepted_ = true;
    if (progress_.set_in_head || !partial) return;  // the body starts the run: nothing held
    answer_.prefix.skip = partial->skip_bytes;
    answer_.prefix.check_overlap =
        partial->action == policy::PartialAction::Append && answer_.prefix.skip > 0;
    answer_.resent = answer_.prefix.skip - (answer_.prefix.check_overlap ? 1 : 0);
    if (partial->action == policy::PartialAction::Restart && answer_.prefix.skip > 0)
        spdlog::info("{}: origin ignored Range; discarding the first {} bytes", label_,
                     answer_.prefix.skip);
}

void ResumableTransfer::refuse(int status, const policy::HeaderList& headers,
                               policy::PartialReason why) {
    retire();
    policy::HeldBytesVerdict verdict;
    if (answer_.ranged && progress_.run)
        verdict =
            policy::judge_held_bytes(answer_.plan, status, headers, progress_.run->complete_length);
    end(verdict.action == policy::HeldBytes::Invalidate ? ResumeEnd::ObjectChanged
                                                        : ResumeEnd::ResumeRefused,
        status,
        "status " + std::to_string(status) + ", " + std::string(policy::to_string(why)) + "; " +
            std::string(policy::to_string(verdict.evidence)));
}

}  // namespace proxy
