// RedirectMemory: the redirects dlproxy passed to clients, remembered by where they point.
//
// A model host answers `GET huggingface.co/{repo}/resolve/{rev}/{file}` with a 302 to a
// short-lived signed CDN URL, announcing the file's sha256 (X-Linked-Etag), size and commit;
// Civitai's api/download answers a 307 to a presigned R2/B2 URL. The client then fetches the
// Location through dlproxy. Remembering the redirect by the Location's cache key gives dlproxy
// three things (docs/model-hosts.md):
//   - content identity: the Location's object is stored under `sha256:<hex>`, so the same file
//     reached from another repo, revision or host is stored once and found as a hit;
//   - verification: the digest to compare the filled object with;
//   - refresh: the request that redirected (URL and headers, Authorization included) can be sent
//     again for a fresh signed URL when the old one expires mid-fill.
// The non-secret facts (resolve key → sha256, size, location key, commit) also go to the index
// (cache::Store::put_resolve, on a worker) so that a resolve URL can be answered from the cache
// after a restart while the hosts are down. Request headers are kept in memory only, never
// written anywhere.
//
// Bounded: at most `capacity` redirects, least recently remembered forgotten first.
// Thread: the loop thread. Lifetime: owned by the FetchRegistry.
#pragma once

#include <uv.h>

#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "cache/object_info.h"
#include "cache/store.h"
#include "policy/cache_key.h"
#include "proxy/upstream/upstream_transfer.h"

namespace proxy {

struct RememberedRedirect {
    UpstreamRequest request;            // what the client sent (end-to-end headers), memory only
    std::string resolve_key;            // cache key of request.url
    std::string location;               // absolute Location
    std::string location_key;           // its cache key
    std::optional<std::string> sha256;  // announced, 64 lower-case hex
    std::optional<uint64_t> size;
    std::string commit;  // X-Repo-Commit
};

class RedirectMemory {
  public:
    static constexpr size_t kDefaultCapacity = 4096;

    // `key_rules`: the per-host rules client requests are keyed with (Server::key_rules()), so
    // that a Location's key is the key its request will have.
    RedirectMemory(uv_loop_t* loop, cache::Store& store, std::vector<policy::KeyRule> key_rules,
                   size_t capacity = kDefaultCapacity);

    // A 3xx answer to `request` goes to a client: remember it when it carries a usable Location.
    void remember(const UpstreamRequest& request, int status, const policy::HeaderList& headers);

    // The redirect that pointed at `location_key`, or null.
    const RememberedRedirect* by_location(const std::string& location_key) const;

    // The key a cacheable GET with cache key `key` is stored under: `sha256:<hex>` when a
    // redirect announced the content behind it, `key` otherwise.
    std::string storage_key(const std::string& key) const;

    // A refresh of an expired signed URL found `new_location`: it takes the place of
    // `old_location_key` (same request, same facts). Returns the new location's key.
    std::string moved(const std::string& old_location_key, const std::string& new_location);

    // What is known of the content behind the resolve URL `resolve_key`: from memory, else from
    // the index (a read, fine on the loop). nullopt when nothing is.
    std::optional<cache::ResolveFacts> facts(const std::string& resolve_key) const;

    size_t size() const { return by_location_.size(); }

    // The cache key of an absolute URL (the same derivation as a client request's), or nullopt.
    std::optional<std::string> key_of(const std::string& url) const;
    // `location` made absolute against `base` (RFC 9110 §10.2.2 allows a relative reference).
    static std::optional<std::string> absolute_location(const std::string& base,
                                                        std::string_view location);

  private:
    void persist(const RememberedRedirect& r);
    void insert(RememberedRedirect r);

    uv_loop_t* loop_;
    cache::Store& store_;
    std::vector<policy::KeyRule> key_rules_;
    size_t capacity_;
    std::list<RememberedRedirect> order_;  // front: most recent
    std::unordered_map<std::string, std::list<RememberedRedirect>::iterator> by_location_;
    // Facts already written for a resolve key, so a repeated redirect is not written again.
    std::unordered_map<std::string, cache::ResolveFacts> persisted_;
};

}  // namespace proxy
