// Fallback sources (issue 16 item 3, docs/recovery.md "Fallback sources"): when a fill's origin
// fails — its circuit breaker is open or its retries are spent — the fill may continue from
// another source configured for that host, e.g. `huggingface.co = https://hf-mirror.example`
// (a mirror with the same paths), asking only for the bytes it still needs.
//
// Two rules keep a mixed object correct:
//   - the other source is used only when it names the same content: the same sha256 on both
//     sides, or the same length and the same strong validator (same_content);
//   - an object made of bytes from two sources counts as complete only once its sha256 matches
//     the announced one; without an announced sha256, only a same-validator source is allowed.
//
// Pure: parsing the configuration and the two decisions. proxy/fetch/ does the requests.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "policy/cacheability.h"
#include "policy/header_list.h"
#include "policy/request_target.h"
#include "tl/expected.hpp"

namespace policy {

// One `fallback_source` entry: requests to `host` (an exact host name, any port) may be served
// from `base` + the original path and query.
struct FallbackSource {
    std::string host;    // lower case
    RequestTarget base;  // scheme, host, port and a path prefix ("/" or "/prefix", no query)
};

// "HOST = URL", e.g. "huggingface.co = https://hf-mirror.example/hf". The URL is absolute http or
// https without query or fragment; its path is a prefix (a trailing '/' is dropped). The error
// says what is wrong.
tl::expected<FallbackSource, std::string> parse_fallback_source(std::string_view text);

// The URL on each configured source for `original`, in configuration order: the source's
// scheme, host and port, its path prefix followed by the original path and query. Empty when
// no source is configured for the original host, or the original is itself on a source's host
// (never a loop between two sources).
std::vector<RequestTarget> fallback_targets(const RequestTarget& original,
                                            std::span<const FallbackSource> sources);

// What a source says about the object it would serve.
struct ContentFacts {
    std::optional<uint64_t> length;  // complete length
    std::string sha256;              // 64 lower-case hex digits, or empty when not announced
    std::optional<Validator> validator;
};

enum class SameContent {
    Yes,      // the same sha256, or the same length and strong validator
    No,       // a difference: another sha256, another length
    Unknown,  // nothing to compare with certainty (no sha256 on one side, validators differ)
};

// Whether `source` serves the object `stored` was filled with (RFC 9110 §8.8.1: only strong
// validators compare bytes; a weak one never proves identity).
SameContent same_content(const ContentFacts& stored, const ContentFacts& source);

// What a source's answer says about the object it serves: the complete length from
// Content-Range (a 206) or Content-Length (a 200, not chunked), the sha256 it announces
// (Repr-Digest, Digest, X-Linked-Etag: policy/content_digest.h) and its strong ETag. A
// Last-Modified is left out even when strong: two servers' copies of one file share a date
// far more often than they prove the same bytes.
ContentFacts source_facts(int status, const HeaderList& response);

// The fields a request to a source carries: the client's end-to-end fields minus those meant
// for the original host alone -- its credentials (Authorization, Cookie) and its Host -- and
// minus Range / If-Range / conditionals, which the fill sets itself. A mirror never sees a
// token meant for huggingface.co.
HeaderList fallback_request_headers(const HeaderList& request);

}  // namespace policy
