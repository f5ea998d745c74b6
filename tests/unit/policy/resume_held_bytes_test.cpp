// policy/resume.h, judge_held_bytes: what a rejected answer to a resume says about the bytes
// already held. Kept apart from resume_test.cpp (accept_partial, plan_resume, the held prefix)
// only for size.
#include <doctest/doctest.h>

#include <string>

#include "policy/resume.h"

using namespace policy;

namespace {

const Validator kEtag{Validator::Kind::ETag, "\"v1\""};
const Validator kLm{Validator::Kind::LastModified, "Sun, 06 Nov 1994 08:49:37 GMT"};

}  // namespace

// Issue 14 item 6: a rejected resume invalidates the bytes held only on evidence that the object
// changed (RFC 9110 §13.1.5 If-Range, §14.4 Content-Range, §15.5.17 416); every other failure
// keeps them for the next request to resume after.
TEST_CASE("policy/resume: judge_held_bytes keeps held bytes unless the object changed") {
    using H = HeldBytes;
    using E = ChangeEvidence;
    const auto with_etag = plan_resume(1000, kEtag);
    const auto with_lm = plan_resume(1000, kLm);
    const auto without = plan_resume(1000, std::nullopt);
    const std::optional<uint64_t> len = 5000;
    const std::optional<uint64_t> unknown;
    struct Row {
        const char* name;
        const ResumePlan* plan;
        int status;
        HeaderList response;
        std::optional<uint64_t> expected_length;
        H action;
        E evidence;
    };
    const Row rows[] = {
        // Error statuses say nothing about the object, whatever their fields describe.
        {"403 (expired signed URL)",
         &with_etag,
         403,
         {{"Content-Length", "120"}},
         len,
         H::Keep,
         E::None},
        {"401", &with_etag, 401, {}, len, H::Keep, E::None},
        {"404", &with_etag, 404, {}, len, H::Keep, E::None},
        {"410", &with_etag, 410, {}, len, H::Keep, E::None},
        {"500", &with_etag, 500, {}, len, H::Keep, E::None},
        {"503 after the retries", &with_etag, 503, {{"Retry-After", "1"}}, len, H::Keep, E::None},
        {"403 whose error page has its own ETag",
         &with_etag,
         403,
         {{"ETag", "\"error-page\""}, {"Content-Length", "120"}},
         len,
         H::Keep,
         E::None},
        {"304", &with_etag, 304, {{"ETag", "\"v2\""}}, len, H::Keep, E::None},
        // If-Range failing: a 200 with another validator (§13.1.5).
        {"200, changed etag",
         &with_etag,
         200,
         {{"ETag", "\"v2\""}, {"Content-Length", "5000"}},
         len,
         H::Invalidate,
         E::ValidatorDiffers},
        {"200, changed Last-Modified",
         &with_lm,
         200,
         {{"Last-Modified", "Mon, 07 Nov 1994 08:49:37 GMT"}, {"Content-Length", "5000"}},
         len,
         H::Invalidate,
         E::ValidatorDiffers},
        {"200, same etag, other length",
         &with_etag,
         200,
         {{"ETag", "\"v1\""}, {"Content-Length", "5001"}},
         len,
         H::Invalidate,
         E::LengthDiffers},
        {"200 without validator, other length",
         &without,
         200,
         {{"Content-Length", "6000"}},
         len,
         H::Invalidate,
         E::LengthDiffers},
        // Nothing proves a change: a captive portal's page, a chunked body, no validator.
        {"200, etag missing, same length",
         &with_etag,
         200,
         {{"Content-Length", "5000"}},
         len,
         H::Keep,
         E::None},
        {"200, same etag, chunked",
         &with_etag,
         200,
         {{"ETag", "\"v1\""}, {"Content-Length", "5001"}, {"Transfer-Encoding", "chunked"}},
         len,
         H::Keep,
         E::None},
        {"200 without any validator, same length",
         &without,
         200,
         {{"Content-Length", "5000"}},
         len,
         H::Keep,
         E::None},
        // 206: a different validator or complete length (§14.4) is evidence; a malformed or
        // misplaced Content-Range is not.
        {"206, changed etag",
         &with_etag,
         206,
         {{"Content-Range", "bytes 999-4999/5000"}, {"ETag", "\"v2\""}},
         len,
         H::Invalidate,
         E::ValidatorDiffers},
        {"206, weak etag",
         &with_etag,
         206,
         {{"Content-Range", "bytes 999-4999/5000"}, {"ETag", "W/\"v1\""}},
         len,
         H::Invalidate,
         E::ValidatorDiffers},
        {"206, changed length",
         &with_etag,
         206,
         {{"Content-Range", "bytes 999-5999/6000"}},
         len,
         H::Invalidate,
         E::LengthDiffers},
        {"206, length hidden",
         &with_etag,
         206,
         {{"Content-Range", "bytes 999-4999/*"}},
         len,
         H::Keep,
         E::None},
        {"206, wrong start",
         &with_etag,
         206,
         {{"Content-Range", "bytes 1000-4999/5000"}},
         len,
         H::Keep,
         E::None},
        {"206, wrong start and length",
         &with_etag,
         206,
         {{"Content-Range", "bytes 0-99/100"}},
         len,
         H::Invalidate,
         E::LengthDiffers},
        {"206, garbage Content-Range",
         &with_etag,
         206,
         {{"Content-Range", "bytes 999-"}},
         len,
         H::Keep,
         E::None},
        {"206, multipart",
         &with_etag,
         206,
         {{"Content-Type", "multipart/byteranges; b=x"}},
         len,
         H::Keep,
         E::None},
        {"206, expected length unknown",
         &with_etag,
         206,
         {{"Content-Range", "bytes 1000-5999/6000"}},
         unknown,
         H::Keep,
         E::None},
        // 416 (§15.5.17): the object no longer reaches the bytes held.
        {"416, shorter",
         &with_etag,
         416,
         {{"Content-Range", "bytes */500"}},
         len,
         H::Invalidate,
         E::LengthDiffers},
        {"416, shorter, expected length unknown",
         &with_etag,
         416,
         {{"Content-Range", "bytes */500"}},
         unknown,
         H::Invalidate,
         E::Unsatisfiable},
        {"416 without Content-Range", &with_etag, 416, {}, len, H::Invalidate, E::Unsatisfiable},
        {"416 naming the expected length (a broken origin)",
         &with_etag,
         416,
         {{"Content-Range", "bytes */5000"}},
         len,
         H::Keep,
         E::None},
    };
    for (const auto& row : rows) {
        INFO(std::string(row.name));
        auto v = judge_held_bytes(*row.plan, row.status, row.response, row.expected_length);
        CHECK(v.action == row.action);
        CHECK(v.evidence == row.evidence);
        CHECK_FALSE(to_string(v.evidence).empty());
        // Whatever keeps the bytes was rejected by accept_partial too: no row here is usable.
        CHECK(accept_partial(*row.plan, row.status, row.response, row.expected_length).action ==
              PartialAction::Reject);
    }
    CHECK(overlap_differs().action == H::Invalidate);
    CHECK(overlap_differs().evidence == E::OverlapDiffers);
}
