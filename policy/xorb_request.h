// Xet xorb transfers served from the cache (issue 15 item 2, docs/huggingface.md "Xorb cache").
//
// A Xet transfer URL, `https://transfer.xethub.hf.co/xorb/<namespace>/<xorb-hash>?<signature>`,
// names a xorb by the hash of its content and is signed for one exact Range value. dlproxy keeps
// the byte ranges of such answers per xorb: this file says which requests are xorb requests,
// under which key their bytes are stored, which ranges they ask for, and whether their URL has
// visibly expired.
//
// Pure: no I/O, no clock (`now` is a parameter). Host patterns use host_matches' syntax
// (policy/cache_key.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/byte_range.h"
#include "policy/request_target.h"

namespace policy {

struct XorbTarget {
    std::string ns;    // the namespace segment ("default")
    std::string hash;  // 64 lower-case hex digits
    // The store key of the xorb: "xet-xorb:<ns>/<hash>". No URL produces a key of this form
    // (URL keys start with a scheme), so a xorb object never answers a URL lookup.
    std::string key() const { return "xet-xorb:" + ns + "/" + hash; }
};

// The xorb a request is for: an https GET target whose host matches one of `hosts` and whose
// path (without its query) is exactly /xorb/<ns>/<64 hex digits>; nullopt otherwise.
std::optional<XorbTarget> xorb_target(const std::vector<std::string>& hosts,
                                      const RequestTarget& target);

// The ranges a xorb request's Range value asks for, in request order, resolved against the
// xorb's complete length as the origin does (a last-pos past the end is clamped). nullopt unless
// every range-spec is closed ("first-last") and begins inside the xorb: anything else the
// cache does not answer, and the origin decides.
std::optional<std::vector<ByteRange>> xorb_ranges(std::string_view range_value,
                                                  uint64_t complete_length);

enum class UrlExpiry {
    Unknown,  // no expiry parameter this code knows
    Valid,    // an expiry in the future
    Expired,  // an expiry at or before `now`
};

std::string_view to_string(UrlExpiry e);

// The expiry a signed URL's query announces, compared with `now` (Unix seconds): `Expires`
// (CloudFront canned policy, Unix seconds), `X-Xet-Expires` (Unix seconds), or `X-Amz-Date` +
// `X-Amz-Expires` (SigV4). The signature itself cannot be checked here (its key is the
// origin's); docs/huggingface.md says why an unexpired xorb URL is served from the cache.
UrlExpiry signed_url_expiry(std::string_view path, int64_t now);

}  // namespace policy
