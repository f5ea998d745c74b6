#include "proxy/fetch/variant_index.h"

#include <algorithm>

#include "policy/vary.h"

namespace proxy {

void VariantIndex::touch(Entry& entry) {
    lru_.splice(lru_.begin(), lru_, entry.lru);
}

std::string VariantIndex::key_for(const std::string& primary, const policy::HeaderList& request) {
    auto it = entries_.find(primary);
    if (it == entries_.end()) return primary;
    touch(it->second);
    return policy::variant_key(primary, it->second.fields, request);
}

std::vector<std::string> VariantIndex::stored(const std::string& primary,
                                              const std::vector<std::string>& fields,
                                              const std::string& key) {
    std::vector<std::string> dropped;
    auto it = entries_.find(primary);
    if (fields.empty()) {  // the resource no longer varies: its variants are unreachable
        if (it != entries_.end()) dropped = forget(primary);
        return dropped;
    }
    if (it == entries_.end()) {
        if (entries_.size() >= kMaxPrimaries) {  // the oldest primary goes; its objects stay
            entries_.erase(lru_.back());         // until evicted (they are only unreachable)
            lru_.pop_back();
        }
        lru_.push_front(primary);
        it = entries_.emplace(primary, Entry{fields, {}, lru_.begin()}).first;
        dropped.push_back(primary);  // a response stored before the resource varied
    }
    Entry& entry = it->second;
    touch(entry);
    if (entry.fields != fields) {  // the origin varies on other fields now
        dropped = std::move(entry.variants);
        entry.variants.clear();
        entry.fields = fields;
    }
    std::erase(entry.variants, key);
    std::erase(dropped, key);
    entry.variants.insert(entry.variants.begin(), key);
    while (entry.variants.size() > kMaxVariants) {
        dropped.push_back(std::move(entry.variants.back()));
        entry.variants.pop_back();
    }
    return dropped;
}

std::vector<std::string> VariantIndex::forget(const std::string& primary) {
    auto it = entries_.find(primary);
    if (it == entries_.end()) return {};
    std::vector<std::string> variants = std::move(it->second.variants);
    lru_.erase(it->second.lru);
    entries_.erase(it);
    return variants;
}

}  // namespace proxy
