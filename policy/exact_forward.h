// Requests dlproxy forwards exactly as the client sent them, bypassing the cache (issue 15
// item 1, docs/huggingface.md "What is forwarded exactly").
//
// The cache path changes a request: it drops the client's Range and conditionals and asks the
// origin for the whole object (or for the chunks it lacks), and it answers several ranges with
// one 200. That is allowed whenever the URL's signature does not cover those headers -- true of
// CloudFront signed URLs, of SigV4 presigned URLs signed for `host` only, and of Backblaze's
// query token. It is not allowed for Xet's xorb URLs: `transfer.xethub.hf.co` signs each URL
// for one exact `Range` value (V2: possibly several ranges, answered `multipart/byteranges`),
// and refuses any other Range with a 403. Such requests are passed through unchanged, and their
// answers (206, or multipart) reach the client as the origin sent them.
//
// Separately, some answers must never be stored whatever their headers say: Xet access tokens
// (`.../xet-read-token/<rev>`, `.../xet-write-token/<rev>`) and reconstruction answers
// (`/v1|v2/reconstructions/<hash>` on the CAS server), which carry short-lived signed URLs.
//
// Pure: the caller passes the configured host patterns (host_matches syntax, policy/cache_key.h).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "policy/header_list.h"
#include "policy/request_target.h"

namespace policy {

// The Xet transfer hosts, whose URLs are signed for the exact Range (config key
// `signed_range_hosts`).
std::vector<std::string> default_signed_range_patterns();

enum class ExactForwardReason {
    Cacheable,          // none of the below: the cache may handle it
    SignedRangeHost,    // the host is in signed_range_hosts
    SignedRangeQuery,   // a SigV4 presigned URL whose X-Amz-SignedHeaders lists `range`
    XetToken,           // an xet-read-token / xet-write-token answer (a bearer token)
    XetReconstruction,  // a CAS reconstruction answer (short-lived signed URLs)
};

std::string_view to_string(ExactForwardReason r);

struct ExactForwardDecision {
    bool forward_exactly = false;  // pass through unchanged, never stored
    ExactForwardReason reason = ExactForwardReason::Cacheable;
};

// What to do with a request for `target` under the configured `signed_range_patterns`.
ExactForwardDecision decide_exact_forward(const std::vector<std::string>& signed_range_patterns,
                                          const RequestTarget& target);

// True for a request for Xet's file info (`Accept` names application/vnd.xet-fileinfo+json, on a
// Hub resolve URL: the path has /resolve/ or /resolve-cache/): a small JSON answer that clients
// read whole although they send `Range: bytes=0-0`, which the Hub ignores. Stored, that 200 would
// answer the Range with a one-byte 206 (RFC 9110 §14.2 allows it, clients break), so it is
// forwarded exactly. (It varies on Accept: until dlproxy stored variants, RFC 9111 §4.1, it was
// never stored anyway.) Clients send the same Accept when they follow the redirect to the CDN; that
// request is an ordinary download and keeps the cache path.
bool is_xet_file_info_request(const RequestTarget& target, const HeaderList& request);

// The raw value of query parameter `name` (case-insensitive) in `path`; empty when absent.
std::string_view query_param(std::string_view path, std::string_view name);

// True when the query string of `path` has X-Amz-SignedHeaders naming `range` (SigV4 lists
// signed headers lower case, separated by ';', which may arrive percent-encoded as %3B).
bool query_signs_range(std::string_view path);

}  // namespace policy
