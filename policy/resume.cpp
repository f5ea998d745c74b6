#include "policy/resume.h"

#include <algorithm>

#include "policy/byte_range.h"

namespace policy {

namespace {

PartialDecision reject(PartialReason r) {
    return PartialDecision{PartialAction::Reject, 0, r};
}

// The answer may omit the validator field (If-Range already vouched for it), but one that is
// present must be the expected one.
bool validator_consistent(const HeaderList& response, const Validator& expected) {
    std::string_view field = expected.kind == Validator::Kind::ETag ? "etag" : "last-modified";
    return !find_header(response, field) || has_validator(response, expected);
}

PartialDecision accept_206(const ResumePlan& plan, const HeaderList& response,
                           std::optional<uint64_t> expected_complete_length) {
    // A plan for a missing run that starts at byte 0 asks `Range: bytes=0-N`: what matters is
    // whether a Range was sent, not where the run starts.
    if (!find_header(plan.headers, "range")) return reject(PartialReason::UnexpectedPartial);
    auto value = find_header(response, "content-range");
    if (!value) return reject(PartialReason::BadContentRange);  // e.g. multipart/byteranges
    auto cr = parse_content_range(*value);
    if (!cr || !cr->range) return reject(PartialReason::BadContentRange);
    if (cr->range->begin != plan.request_from) return reject(PartialReason::WrongStart);
    if (expected_complete_length && cr->complete_length != expected_complete_length)
        return reject(PartialReason::LengthChanged);
    if (find_header(response, "content-length")) {
        auto length = content_length(response);
        if (!length || *length != cr->range->length())
            return reject(PartialReason::BadContentRange);
    }
    if (plan.validator && !validator_consistent(response, *plan.validator))
        return reject(PartialReason::ValidatorChanged);
    // begin == request_from and the range is non-empty, so it reaches next_offset.
    return PartialDecision{PartialAction::Append, plan.next_offset - plan.request_from,
                           PartialReason::Continues};
}

PartialDecision accept_200(const ResumePlan& plan, const HeaderList& response,
                           std::optional<uint64_t> expected_complete_length) {
    if (plan.validator) {
        if (!has_validator(response, *plan.validator))
            return reject(PartialReason::ValidatorChanged);
    } else if (plan.next_offset > 0) {
        return reject(PartialReason::NoValidator);
    }
    if (expected_complete_length) {
        bool known = !find_header(response, "transfer-encoding");
        auto length = content_length(response);
        if (!known || length != expected_complete_length)
            return reject(PartialReason::LengthChanged);
    }
    return PartialDecision{PartialAction::Restart, plan.next_offset, PartialReason::SameObject};
}

// A validator field of the expected kind that is present and does not match.
bool validator_differs(const HeaderList& response, const Validator& expected) {
    std::string_view field = expected.kind == Validator::Kind::ETag ? "etag" : "last-modified";
    return find_header(response, field) && !has_validator(response, expected);
}

HeldBytesVerdict invalidate(ChangeEvidence e) {
    return HeldBytesVerdict{HeldBytes::Invalidate, e};
}

}  // namespace

std::string_view to_string(ChangeEvidence e) {
    switch (e) {
        case ChangeEvidence::None:
            return "no evidence the object changed";
        case ChangeEvidence::ValidatorDiffers:
            return "the validator differs";
        case ChangeEvidence::LengthDiffers:
            return "the complete length differs";
        case ChangeEvidence::Unsatisfiable:
            return "416: the object no longer reaches the bytes held";
        case ChangeEvidence::OverlapDiffers:
            return "the overlapping byte differs";
    }
    return "unknown";
}

HeldBytesVerdict judge_held_bytes(const ResumePlan& plan, int status, const HeaderList& response,
                                  std::optional<uint64_t> expected_complete_length) {
    if (status != 200 && status != 206 && status != 416) return {};
    if (status != 416 && plan.validator && validator_differs(response, *plan.validator))
        return invalidate(ChangeEvidence::ValidatorDiffers);
    std::optional<uint64_t> length;
    if (status == 200) {
        if (!find_header(response, "transfer-encoding")) length = content_length(response);
    } else if (auto value = find_header(response, "content-range")) {
        if (auto cr = parse_content_range(*value)) length = cr->complete_length;
    }
    if (length && expected_complete_length && *length != *expected_complete_length)
        return invalidate(ChangeEvidence::LengthDiffers);
    // A 416 names the current length, or none: either way the bytes held must still exist.
    if (status == 416 && (!length || *length < plan.next_offset))
        return invalidate(ChangeEvidence::Unsatisfiable);
    return {};
}

std::string_view to_string(PartialReason r) {
    switch (r) {
        case PartialReason::Continues:
            return "partial response continues the body";
        case PartialReason::SameObject:
            return "full response of the same object";
        case PartialReason::UnexpectedStatus:
            return "unexpected status for a resumed request";
        case PartialReason::UnexpectedPartial:
            return "206 to a request without Range";
        case PartialReason::BadContentRange:
            return "missing or malformed Content-Range";
        case PartialReason::WrongStart:
            return "Content-Range does not start where asked";
        case PartialReason::LengthChanged:
            return "complete length changed";
        case PartialReason::ValidatorChanged:
            return "validator changed";
        case PartialReason::NoValidator:
            return "no validator to prove the object unchanged";
        case PartialReason::Unsatisfiable:
            return "416: object shorter than the bytes received";
    }
    return "rejected";
}

ResumePlan plan_resume(uint64_t next_offset, const std::optional<Validator>& validator) {
    ResumePlan plan;
    plan.next_offset = next_offset;
    plan.validator = validator;
    if (next_offset == 0) return plan;
    plan.request_from = next_offset - 1;  // one byte of overlap, checked by the caller
    plan.headers.push_back({"Range", format_range_header(plan.request_from)});
    if (validator) plan.headers.push_back({"If-Range", validator->value});
    return plan;
}

PartialDecision accept_partial(const ResumePlan& plan, int status, const HeaderList& response,
                               std::optional<uint64_t> expected_complete_length) {
    switch (status) {
        case 206:
            return accept_206(plan, response, expected_complete_length);
        case 200:
            return accept_200(plan, response, expected_complete_length);
        case 416:
            return reject(PartialReason::Unsatisfiable);
        default:
            return reject(PartialReason::UnexpectedStatus);
    }
}

PrefixStep drop_held_prefix(HeldPrefix& prefix, const unsigned char* piece, size_t size) {
    PrefixStep step;
    step.dropped = static_cast<size_t>(std::min<uint64_t>(prefix.skip, size));
    if (step.dropped == 0) return step;
    const bool last_here = step.dropped == prefix.skip;
    if (prefix.check_overlap && last_here && piece[step.dropped - 1] != prefix.overlap_byte) {
        step.mismatch = true;
        return step;
    }
    if (last_here) prefix.check_overlap = false;
    prefix.skip -= step.dropped;
    return step;
}

}  // namespace policy
