// Mirror mode (issue 15 item 4, docs/huggingface.md "Mirror mode"): dlproxy's plain listener
// answers origin-form requests as if it were the mirrored origin (huggingface.co by default),
// so that `HF_ENDPOINT=http://127.0.0.1:3128` works without proxy settings or a CA.
//
//   GET /org/repo/resolve/main/f            -> https://<origin>/org/repo/resolve/main/f
//   GET /_mirror/<host>/<path>?<query>      -> https://<host>/<path>?<query>, only for a host
//                                              matching the mirror host patterns
//
// The upstream URL keeps the path and query byte for byte (signatures stay valid), so the cache
// key is the one the same https URL has through HTTPS_PROXY: a file downloaded one way is a hit
// the other way. Answers name other hosts (a redirect to a CDN, Xet's Link headers and JSON
// URLs); MirrorLinks rewrites those references onto mirror URLs built from the client's own
// Host, so that every following request comes back through dlproxy. Hosts outside the patterns
// are left as they are: the mirror is never a relay to arbitrary hosts.
//
// Pure: no I/O. Patterns use host_matches' syntax (policy/cache_key.h). Only https on port 443 is
// mirrored, which is what the model hosts use.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/header_list.h"
#include "policy/request_target.h"
#include "policy/result.h"

namespace policy {

// What the configuration says (config keys mirror_origin and mirror_hosts).
struct MirrorSites {
    std::string origin;               // the host "/" stands for; "" = mirror mode off
    std::vector<std::string> hosts;   // reachable as /_mirror/<host>/ (host_matches patterns)
};

inline constexpr std::string_view kMirrorPrefix = "/_mirror/";

enum class MirrorErrc {
    Off,              // mirror mode is off (no origin configured)
    Malformed,        // not an origin-form target, or /_mirror/ without a valid host and path
    HostNotMirrored,  // /_mirror/<host>/ for a host outside the patterns
};

std::string_view to_string(MirrorErrc e);

struct MirrorTarget {
    RequestTarget target;  // https://host/path?query, the URL asked upstream
    std::string prefix;    // "" for the mirrored origin, else "/_mirror/<host>"
};

// The upstream target of origin-form `request_target` ("/path?query") in mirror mode.
Result<MirrorTarget, MirrorErrc> mirror_target(const MirrorSites& sites,
                                               std::string_view request_target);

// The mirror as a request's Host field names it.
struct MirrorBase {
    std::string url;  // "http://127.0.0.1:3128": mirror URLs in answers start with it
    std::string host;  // lower case, IPv6 without brackets
    uint16_t port = 80;
};

// nullopt when the field is not a valid host[:port].
std::optional<MirrorBase> mirror_base(std::string_view host_field);

// Rewrites the URL references of one answer onto the mirror. Holds a reference to `sites`,
// which must outlive it (the server's configuration does).
class MirrorLinks {
  public:
    // `base`: mirror_base() of the request; `prefix`: its MirrorTarget::prefix.
    MirrorLinks(const MirrorSites& sites, std::string base, std::string prefix);

    // An absolute https URL on a mirrored host, as the mirror URL that fetches it; nullopt for
    // anything else (another host or scheme, a port other than 443, a malformed URL).
    std::optional<std::string> absolute(std::string_view url) const;

    // A URI reference as found in Location or Content-Location: absolute URLs and network-path
    // references ("//host/p") through absolute(); an absolute path ("/p") gets the request's
    // prefix (it names the same host); relative paths and anything not mirrored are unchanged.
    std::string reference(std::string_view ref) const;

    // A Link field (RFC 8288): every <URI-Reference> through reference(); parameters, quoted
    // strings included, are unchanged.
    std::string link_field(std::string_view value) const;

    // Location, Content-Location and Link of an answer, in place.
    void rewrite_headers(HeaderList& headers) const;

  private:
    const MirrorSites& sites_;
    std::string base_;
    std::string prefix_;
};

}  // namespace policy
