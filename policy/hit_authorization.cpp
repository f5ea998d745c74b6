#include "policy/hit_authorization.h"

#include "policy/byte_range.h"

namespace policy {

HeaderList authorization_headers(const std::optional<Validator>& validator) {
    if (validator && validator->kind == Validator::Kind::ETag)
        return {{"If-None-Match", validator->value}};
    HeaderList out{{"Range", "bytes=0-0"}};
    if (validator) out.push_back({"If-Range", validator->value});
    return out;
}

std::string_view to_string(AuthorizationReason r) {
    switch (r) {
        case AuthorizationReason::NotModified:
            return "304 with the stored validator";
        case AuthorizationReason::SameRange:
            return "206 with the stored validator and length";
        case AuthorizationReason::Refused:
            return "the origin did not accept the URL";
        case AuthorizationReason::FullResponse:
            return "a full response instead of 304/206";
        case AuthorizationReason::ValidatorMismatch:
            return "the origin's validator differs from the stored one";
        case AuthorizationReason::LengthMismatch:
            return "the origin's length differs from the stored one";
    }
    return "unknown";
}

AuthorizationVerdict judge_authorization(const std::optional<Validator>& validator,
                                         uint64_t complete_length, int status,
                                         const HeaderList& response) {
    using A = Authorization;
    using R = AuthorizationReason;
    if (status == 304) {
        // RFC 9110 §15.4.5: the 304 names the representation it validated; one without a
        // validator answers the If-None-Match we sent, which only ours could satisfy.
        const bool named = find_header(response, "etag") || find_header(response, "last-modified");
        if (named && validator && !has_validator(response, *validator))
            return {A::Refetch, R::ValidatorMismatch};
        return {A::Serve, R::NotModified};
    }
    if (status == 206) {
        auto value = find_header(response, "content-range");
        auto range = parse_content_range(value.value_or(""));
        if (!value || !range || !range->range || range->range->begin != 0 ||
            range->complete_length != complete_length)
            return {A::Refetch, R::LengthMismatch};
        if (validator && !has_validator(response, *validator))
            return {A::Refetch, R::ValidatorMismatch};
        return {A::Serve, R::SameRange};
    }
    if (status == 200) return {A::HandOver, R::FullResponse};
    return {A::HandOver, R::Refused};
}

}  // namespace policy
