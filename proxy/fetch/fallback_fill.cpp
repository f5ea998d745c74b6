#include "proxy/fetch/fallback_fill.h"

#include "policy/request_target.h"
#include "proxy/fetch/fetch.h"

namespace proxy {

namespace {

std::string describe(const policy::ContentFacts& f) {
    std::string out = "length " + (f.length ? std::to_string(*f.length) : std::string("?"));
    out += ", sha256 " + (f.sha256.empty() ? std::string("none") : f.sha256.substr(0, 12));
    out += ", ETag " + (f.validator ? f.validator->value : std::string("none"));
    return out;
}

}  // namespace

std::vector<policy::RequestTarget> FallbackFill::targets_for(
    const std::string& original_url, const std::vector<std::string>& entries) {
    if (entries.empty()) return {};
    auto original = policy::parse_absolute_target(original_url, true);
    if (!original) return {};
    std::vector<policy::FallbackSource> sources;
    for (const auto& text : entries)
        if (auto s = policy::parse_fallback_source(text)) sources.push_back(std::move(*s));
    return policy::fallback_targets(*original, sources);
}

bool FallbackFill::next_source(const std::string& original_url,
                               const std::vector<std::string>& entries, FetchEnd end,
                               std::string detail, uint64_t now_ms) {
    if (index_ == 0) {
        targets_ = targets_for(original_url, entries);
        origin_end_ = end;
        origin_detail_ = std::move(detail);
    }
    if (index_ >= targets_.size()) return false;
    url_ = targets_[index_].url();
    ++index_;
    failed_ms_ = now_ms;
    validator_.reset();
    accepted_ = false;
    return true;
}

UpstreamRequest FallbackFill::request(const UpstreamRequest& original) const {
    UpstreamRequest out = original;
    out.url = url_;
    out.headers = policy::fallback_request_headers(original.headers);
    return out;
}

ResumeRun FallbackFill::run(ResumeRun run) const {
    run.validator = accepted_ ? validator_ : std::nullopt;
    return run;
}

std::string FallbackFill::judge(const policy::ContentFacts& stored, int status,
                                const policy::HeaderList& headers,
                                const std::optional<policy::PartialDecision>& partial) const {
    if (status != 200 && status != 206) return "status " + std::to_string(status);
    const policy::ContentFacts source = policy::source_facts(status, headers);
    switch (policy::same_content(stored, source)) {
        case policy::SameContent::Yes:
            break;
        case policy::SameContent::No:
            return "other content (" + describe(source) + "; stored: " + describe(stored) + ")";
        case policy::SameContent::Unknown:
            return "nothing proves the same content (" + describe(source) +
                   "; stored: " + describe(stored) + ")";
    }
    if (!partial || partial->action == policy::PartialAction::Reject)
        return "status " + std::to_string(status) + ", " +
               std::string(policy::to_string(partial ? partial->reason
                                                     : policy::PartialReason::UnexpectedStatus));
    // The first request to a source asks from the byte needed, with no overlap: an answer
    // that starts earlier (a 200 to a range) would need bytes dropped under no validator.
    if (partial->skip_bytes != 0) return "the answer starts before the bytes needed";
    return {};
}

uint64_t FallbackFill::accept(const policy::HeaderList& headers, uint64_t now_ms) {
    auto v = policy::strong_validator(headers);
    if (v && v->kind == policy::Validator::Kind::ETag) validator_ = std::move(v);
    accepted_ = true;
    return now_ms - failed_ms_;
}

}  // namespace proxy
