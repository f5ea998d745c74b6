#include "policy/resume.h"

#include <doctest/doctest.h>

#include <string>

using namespace policy;

namespace {

using A = PartialAction;
using R = PartialReason;
const Validator kEtag{Validator::Kind::ETag, "\"v1\""};
const Validator kLm{Validator::Kind::LastModified, "Sun, 06 Nov 1994 08:49:37 GMT"};

}  // namespace

TEST_CASE("policy/resume: plan_resume") {
    auto fresh = plan_resume(0, kEtag);
    CHECK(fresh.request_from == 0);
    CHECK(fresh.headers.empty());

    auto p = plan_resume(1000, kEtag);
    CHECK(p.next_offset == 1000);
    CHECK(p.request_from == 999);
    REQUIRE(p.headers.size() == 2);
    CHECK(p.headers[0].name == "Range");
    CHECK(p.headers[0].value == "bytes=999-");
    CHECK(p.headers[1].name == "If-Range");
    CHECK(p.headers[1].value == "\"v1\"");

    auto one = plan_resume(1, kLm);
    CHECK(one.headers[0].value == "bytes=0-");
    CHECK(one.headers[1].value == kLm.value);

    auto bare = plan_resume(UINT64_MAX, std::nullopt);
    REQUIRE(bare.headers.size() == 1);
    CHECK(bare.headers[0].value == "bytes=18446744073709551614-");
}

TEST_CASE("policy/resume: accept_partial") {
    const auto with_etag = plan_resume(1000, kEtag);
    const auto with_lm = plan_resume(1000, kLm);
    const auto without = plan_resume(1000, std::nullopt);
    const auto from_start = plan_resume(0, kEtag);
    const auto from_start_bare = plan_resume(0, std::nullopt);
    // A fill of a missing run that starts at byte 0 (later chunks are stored): `bytes=0-1999`.
    auto run_at_zero = plan_resume(0, kEtag);
    run_at_zero.headers = {{"Range", "bytes=0-1999"}, {"If-Range", "\"v1\""}};
    const std::optional<uint64_t> len = 5000;
    const std::optional<uint64_t> unknown;
    struct Row {
        const char* name;
        const ResumePlan* plan;
        int status;
        HeaderList response;
        std::optional<uint64_t> expected_length;
        A action;
        uint64_t skip;
        R reason;
    };
    const Row rows[] = {
        {"206 as asked",
         &with_etag,
         206,
         {{"Content-Range", "bytes 999-4999/5000"}, {"Content-Length", "4001"}, {"ETag", "\"v1\""}},
         len,
         A::Append,
         1,
         R::Continues},
        {"206 without validator field",
         &with_etag,
         206,
         {{"Content-Range", "bytes 999-4999/5000"}},
         len,
         A::Append,
         1,
         R::Continues},
        {"206 shorter than asked",
         &with_etag,
         206,
         {{"Content-Range", "bytes 999-1999/5000"}},
         len,
         A::Append,
         1,
         R::Continues},
        {"206, Last-Modified validator",
         &with_lm,
         206,
         {{"Content-Range", "bytes 999-4999/5000"},
          {"Last-Modified", "Sunday, 06-Nov-94 08:49:37 GMT"}},
         len,
         A::Append,
         1,
         R::Continues},
        {"206, no validator, length matches",
         &without,
         206,
         {{"Content-Range", "bytes 999-4999/5000"}},
         len,
         A::Append,
         1,
         R::Continues},
        {"206, unknown expected length",
         &with_etag,
         206,
         {{"Content-Range", "bytes 999-4999/*"}},
         unknown,
         A::Append,
         1,
         R::Continues},
        {"206, changed etag",
         &with_etag,
         206,
         {{"Content-Range", "bytes 999-4999/5000"}, {"ETag", "\"v2\""}},
         len,
         A::Reject,
         0,
         R::ValidatorChanged},
        {"206, weak etag",
         &with_etag,
         206,
         {{"Content-Range", "bytes 999-4999/5000"}, {"ETag", "W/\"v1\""}},
         len,
         A::Reject,
         0,
         R::ValidatorChanged},
        {"206, changed Last-Modified",
         &with_lm,
         206,
         {{"Content-Range", "bytes 999-4999/5000"},
          {"Last-Modified", "Mon, 07 Nov 1994 08:49:37 GMT"}},
         len,
         A::Reject,
         0,
         R::ValidatorChanged},
        {"206, wrong start",
         &with_etag,
         206,
         {{"Content-Range", "bytes 1000-4999/5000"}},
         len,
         A::Reject,
         0,
         R::WrongStart},
        {"206, from zero",
         &with_etag,
         206,
         {{"Content-Range", "bytes 0-4999/5000"}},
         len,
         A::Reject,
         0,
         R::WrongStart},
        {"206, changed length",
         &with_etag,
         206,
         {{"Content-Range", "bytes 999-5999/6000"}},
         len,
         A::Reject,
         0,
         R::LengthChanged},
        {"206, length hidden",
         &with_etag,
         206,
         {{"Content-Range", "bytes 999-4999/*"}},
         len,
         A::Reject,
         0,
         R::LengthChanged},
        {"206, no Content-Range (multipart)",
         &with_etag,
         206,
         {{"Content-Type", "multipart/byteranges; boundary=x"}},
         len,
         A::Reject,
         0,
         R::BadContentRange},
        {"206, garbage Content-Range",
         &with_etag,
         206,
         {{"Content-Range", "bytes 999-"}},
         len,
         A::Reject,
         0,
         R::BadContentRange},
        {"206, unsatisfied form",
         &with_etag,
         206,
         {{"Content-Range", "bytes */5000"}},
         len,
         A::Reject,
         0,
         R::BadContentRange},
        {"206, Content-Length disagrees",
         &with_etag,
         206,
         {{"Content-Range", "bytes 999-4999/5000"}, {"Content-Length", "4000"}},
         len,
         A::Reject,
         0,
         R::BadContentRange},
        {"206, Content-Length garbage",
         &with_etag,
         206,
         {{"Content-Range", "bytes 999-4999/5000"}, {"Content-Length", "x"}},
         len,
         A::Reject,
         0,
         R::BadContentRange},
        {"206 to a run from byte 0 (a Range was sent)",
         &run_at_zero,
         206,
         {{"Content-Range", "bytes 0-1999/5000"}},
         len,
         A::Append,
         0,
         R::Continues},
        {"206 to a request without Range",
         &from_start,
         206,
         {{"Content-Range", "bytes 0-4999/5000"}},
         len,
         A::Reject,
         0,
         R::UnexpectedPartial},
        {"200, same etag",
         &with_etag,
         200,
         {{"ETag", "\"v1\""}, {"Content-Length", "5000"}},
         len,
         A::Restart,
         1000,
         R::SameObject},
        {"200, same Last-Modified",
         &with_lm,
         200,
         {{"Last-Modified", kLm.value}, {"Content-Length", "5000"}},
         len,
         A::Restart,
         1000,
         R::SameObject},
        {"200, changed etag",
         &with_etag,
         200,
         {{"ETag", "\"v2\""}, {"Content-Length", "5000"}},
         len,
         A::Reject,
         0,
         R::ValidatorChanged},
        {"200, etag missing",
         &with_etag,
         200,
         {{"Content-Length", "5000"}},
         len,
         A::Reject,
         0,
         R::ValidatorChanged},
        {"200, same etag, other length",
         &with_etag,
         200,
         {{"ETag", "\"v1\""}, {"Content-Length", "5001"}},
         len,
         A::Reject,
         0,
         R::LengthChanged},
        {"200, same etag, chunked",
         &with_etag,
         200,
         {{"ETag", "\"v1\""}, {"Content-Length", "5000"}, {"Transfer-Encoding", "chunked"}},
         len,
         A::Reject,
         0,
         R::LengthChanged},
        {"200, same etag, length unknown to both",
         &with_etag,
         200,
         {{"ETag", "\"v1\""}, {"Transfer-Encoding", "chunked"}},
         unknown,
         A::Restart,
         1000,
         R::SameObject},
        {"200 without any validator",
         &without,
         200,
         {{"Content-Length", "5000"}},
         len,
         A::Reject,
         0,
         R::NoValidator},
        {"200 from the start",
         &from_start,
         200,
         {{"ETag", "\"v1\""}, {"Content-Length", "5000"}},
         len,
         A::Restart,
         0,
         R::SameObject},
        {"200 from the start, changed",
         &from_start,
         200,
         {{"ETag", "\"v2\""}, {"Content-Length", "5000"}},
         len,
         A::Reject,
         0,
         R::ValidatorChanged},
        {"200 from the start, no validator",
         &from_start_bare,
         200,
         {{"Content-Length", "5000"}},
         len,
         A::Restart,
         0,
         R::SameObject},
        {"416",
         &with_etag,
         416,
         {{"Content-Range", "bytes */500"}},
         len,
         A::Reject,
         0,
         R::Unsatisfiable},
        {"503", &with_etag, 503, {}, len, A::Reject, 0, R::UnexpectedStatus},
        {"304", &with_etag, 304, {}, len, A::Reject, 0, R::UnexpectedStatus},
        {"garbage status", &with_etag, -7, {}, len, A::Reject, 0, R::UnexpectedStatus},
    };
    for (const auto& row : rows) {
        INFO(std::string(row.name));
        auto d = accept_partial(*row.plan, row.status, row.response, row.expected_length);
        CHECK(d.action == row.action);
        CHECK(d.skip_bytes == row.skip);
        CHECK(d.reason == row.reason);
        CHECK_FALSE(to_string(d.reason).empty());
    }
}

TEST_CASE("policy/resume: resuming at the last byte of a huge object") {
    const uint64_t total = UINT64_MAX;  // complete length; last byte UINT64_MAX - 1
    auto plan = plan_resume(total - 1, kEtag);
    auto d = accept_partial(plan, 206,
                            {{"Content-Range",
                              "bytes 18446744073709551613-18446744073709551614/"
                              "18446744073709551615"}},
                            total);
    CHECK(d.action == A::Append);
    CHECK(d.skip_bytes == 1);
}

TEST_CASE("policy/resume: the held prefix is dropped across pieces, the overlap byte checked") {
    using policy::drop_held_prefix;
    using policy::HeldPrefix;
    const unsigned char body[] = {'a', 'b', 'c', 'd', 'e'};
    {  // an Append: one overlap byte, equal
        HeldPrefix p{1, true, 'a'};
        auto s = drop_held_prefix(p, body, 5);
        CHECK(s.dropped == 1);
        CHECK_FALSE(s.mismatch);
        CHECK(p.skip == 0);
        CHECK_FALSE(p.check_overlap);
        CHECK(drop_held_prefix(p, body, 5).dropped == 0);  // nothing more to drop
    }
    {  // the overlap byte differs: not the same object
        HeldPrefix p{1, true, 'z'};
        CHECK(drop_held_prefix(p, body, 5).mismatch);
    }
    {  // a prefix spanning pieces: the overlap byte is checked where it arrives, not before
        HeldPrefix p{4, true, 'b'};
        auto first = drop_held_prefix(p, body, 3);  // a b c: the 4th byte is still to come
        CHECK(first.dropped == 3);
        CHECK_FALSE(first.mismatch);
        CHECK(p.skip == 1);
        CHECK(p.check_overlap);
        auto second = drop_held_prefix(p, body + 1, 4);  // 'b' is the overlap byte
        CHECK(second.dropped == 1);
        CHECK_FALSE(second.mismatch);
        CHECK(p.skip == 0);
    }
    {  // a Restart (200 of the same object): the prefix is dropped unchecked
        HeldPrefix p{5, false, 0};
        auto s = drop_held_prefix(p, body, 5);
        CHECK(s.dropped == 5);
        CHECK_FALSE(s.mismatch);
    }
}
