#include "policy/hit_authorization.h"

#include <doctest/doctest.h>

using namespace policy;

namespace {

const Validator kEtag{Validator::Kind::ETag, "\"abc\""};
const Validator kDate{Validator::Kind::LastModified, "Tue, 14 Nov 2023 22:13:20 GMT"};

}  // namespace

TEST_CASE("policy/hit_authorization: the request costs no body") {
    auto text = [](const HeaderList& h) {
        std::string out;
        for (const auto& f : h)
            out += f.name + ": " + f.value + "\n";
        return out;
    };
    CHECK(text(authorization_headers(kEtag)) == "If-None-Match: \"abc\"\n");
    CHECK(text(authorization_headers(kDate)) ==
          "Range: bytes=0-0\nIf-Range: Tue, 14 Nov 2023 22:13:20 GMT\n");
    CHECK(text(authorization_headers(std::nullopt)) == "Range: bytes=0-0\n");
}

TEST_CASE("policy/hit_authorization: judging the origin's answer") {
    using A = Authorization;
    using R = AuthorizationReason;
    struct Row {
        std::optional<Validator> validator;
        int status;
        HeaderList headers;
        A action;
        R reason;
    };
    const Row rows[] = {
        {kEtag, 304, {{"ETag", "\"abc\""}}, A::Serve, R::NotModified},
        {kEtag, 304, {}, A::Serve, R::NotModified},
        {kEtag, 304, {{"ETag", "\"other\""}}, A::Refetch, R::ValidatorMismatch},
        {kEtag, 304, {{"ETag", "W/\"abc\""}}, A::Refetch, R::ValidatorMismatch},
        {kDate,
         206,
         {{"Content-Range", "bytes 0-0/100"}, {"Last-Modified", "Tue, 14 Nov 2023 22:13:20 GMT"}},
         A::Serve,
         R::SameRange},
        {kDate,
         206,
         {{"Content-Range", "bytes 0-0/100"}, {"Last-Modified", "Wed, 15 Nov 2023 22:13:20 GMT"}},
         A::Refetch,
         R::ValidatorMismatch},
        {std::nullopt, 206, {{"Content-Range", "bytes 0-0/100"}}, A::Serve, R::SameRange},
        {std::nullopt, 206, {{"Content-Range", "bytes 0-0/101"}}, A::Refetch, R::LengthMismatch},
        {std::nullopt, 206, {{"Content-Range", "bytes 1-1/100"}}, A::Refetch, R::LengthMismatch},
        {std::nullopt, 206, {{"Content-Range", "bytes 0-0/*"}}, A::Refetch, R::LengthMismatch},
        {std::nullopt, 206, {}, A::Refetch, R::LengthMismatch},
        {kEtag, 200, {{"ETag", "\"abc\""}}, A::HandOver, R::FullResponse},
        {kEtag, 403, {}, A::HandOver, R::Refused},
        {kEtag, 401, {}, A::HandOver, R::Refused},
        {kEtag, 400, {}, A::HandOver, R::Refused},
        {kEtag, 404, {}, A::HandOver, R::Refused},
        {kEtag, 503, {}, A::HandOver, R::Refused},
        {kEtag, 302, {{"Location", "/x"}}, A::HandOver, R::Refused},
    };
    for (const auto& row : rows) {
        INFO(row.status);
        auto v = judge_authorization(row.validator, 100, row.status, row.headers);
        CHECK(v.action == row.action);
        CHECK(v.reason == row.reason);
        CHECK_FALSE(to_string(v.reason).empty());
    }
}
