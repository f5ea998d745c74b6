// VariantIndex: for each primary cache key whose responses vary (RFC 9111 §4.1), the fields they
// vary on and the variant keys stored under it (policy/vary.h). It is the secondary lookup: a
// request's primary key and its own header values give the key of the variant it selects.
//
// Bounds: at most kMaxVariants variants per primary key, the least recently stored one dropped
// first. Eight covers what a forward proxy's clients realistically produce (a few tools, each with
// its own Accept or Accept-Language); past that a resource that varies on, say, User-Agent would
// otherwise fill the cache with copies of one URL. At most kMaxPrimaries primary keys, the least
// recently used forgotten first (about 200 bytes each, so well under a few MiB).
//
// It lives in memory: after a restart the first request for a varying URL goes to the primary key,
// misses, and its answer (which names its Vary again) replaces the variant it selects; the
// variants stored before are found again from then on.
//
// Thread: the loop thread. Owned by the FetchRegistry.
#pragma once

#include <cstddef>
#include <list>
#include <string>
#include <unordered_map>
#include <vector>

#include "policy/header_list.h"

namespace proxy {

class VariantIndex {
  public:
    static constexpr size_t kMaxVariants = 8;
    static constexpr size_t kMaxPrimaries = 16384;

    // The key `request` selects under `primary`: a variant key when responses of `primary` are
    // known to vary, else `primary` itself.
    std::string key_for(const std::string& primary, const policy::HeaderList& request);

    // A response of `primary` was stored under `key`, varying on `fields` (empty: it does not
    // vary, and `key` is `primary`). Returns the keys no longer reachable (variants past the bound
    // or selected by other fields than the ones the origin names now, and `primary` itself when
    // it starts to vary): their objects should go.
    std::vector<std::string> stored(const std::string& primary,
                                    const std::vector<std::string>& fields, const std::string& key);

    // Forgets `primary` (an unsafe request invalidated it, RFC 9111 §4.4) and returns its variant
    // keys.
    std::vector<std::string> forget(const std::string& primary);

    size_t size() const { return entries_.size(); }

  private:
    struct Entry {
        std::vector<std::string> fields;
        std::vector<std::string> variants;  // most recently stored first
        std::list<std::string>::iterator lru;
    };
    void touch(Entry& entry);
    std::unordered_map<std::string, Entry> entries_;
    std::list<std::string> lru_;  // primary keys, most recently used first
};

}  // namespace proxy
