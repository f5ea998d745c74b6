// Cache keys: which requests name the same stored object.
//
// The key is the absolute URL in a normal form (RFC 3986 §6.2.2): lower-case scheme and host, no
// trailing dot on the host, no default port, no fragment, percent-encodings in upper case with
// unreserved characters decoded. Nothing else is rewritten: dot segments, '+' and query order
// stay as sent, because origins may tell them apart.
//
// Per-host rules then drop the query parameters that signed CDN URLs change on every request
// (expiry, signature, credentials) while the object stays the same — a Hugging Face download
// redirects to a cas-bridge.xethub.hf.co or cdn-lfs URL carrying a fresh X-Amz-Signature each
// time. Without the rule nothing would ever be a hit; with it a different signature for the same
// path is the same object, which is what the origin's signing scheme means.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "policy/request_target.h"

namespace policy {

// Host pattern matching, for key rules and TLS interception lists. Case-insensitive; a trailing
// dot on either side is ignored.
//   "example.com"    only example.com
//   "*.example.com"  any subdomain at any depth (a.example.com, a.b.example.com), not
//                    example.com itself: list both when both are meant
//   "*"              any host
// An empty pattern or host matches nothing; '*' anywhere else is an ordinary character.
bool host_matches(std::string_view pattern, std::string_view host);

struct KeyRule {
    std::string host_pattern;  // as in host_matches
    // Query parameter names to drop, case-insensitive; a trailing '*' makes a prefix
    // ("X-Amz-*").
    std::vector<std::string> drop_params;
};

// The built-in rules: for *.hf.co, *.huggingface.co, *.r2.cloudflarestorage.com and
// b2.civitai.com, drop X-Amz-*, Expires, Policy, Signature, Key-Pair-Id, X-Xet-Cas-Uid and
// response-content-* (S3 and CloudFront signatures, R2 and B2 presigned URLs, Xet bridges);
// b2.civitai.com also Authorization and b2ContentDisposition (Backblaze's download token and
// its filename override, both query parameters).
std::vector<KeyRule> default_key_rules();

// The text form of a rule, as the key_rules setting holds it:
//   "PATTERN = NAME, NAME, ..."      e.g. "*.hf.co = X-Amz-*, Expires, Policy"
// PATTERN as in host_matches (a host, *.domain, or *); NAMEs as in KeyRule::drop_params, at
// least one. Spaces around the parts are ignored. The error is a sentence for the user.
tl::expected<KeyRule, std::string> parse_key_rule(std::string_view text);
// The canonical text of a rule ("PATTERN = A, B"); parse_key_rule reads it back unchanged.
std::string format_key_rule(const KeyRule& rule);

// True when `rules` drop at least one query parameter of this target: the key names more URLs
// than this one, so a hit must be authorised by the origin (docs/model-hosts.md).
bool key_drops_params(const RequestTarget& target, std::span<const KeyRule> rules);

// The key under default_key_rules().
std::string cache_key(const RequestTarget& target);

// The key under `rules`: every rule whose pattern matches the host contributes its parameters.
std::string cache_key(const RequestTarget& target, std::span<const KeyRule> rules);

namespace detail {

// RFC 3986 §6.2.2.1–2: upper-case hex in percent-encodings, unreserved characters decoded. A '%'
// not followed by two hex digits is written as "%25", so the result never holds a '%' that is not
// the start of a pct-encoding and normalising it again changes nothing.
std::string normalize_percent_encoding(std::string_view s);

}  // namespace detail

}  // namespace policy
