#include "proxy/admin/cache_admin.h"

#include <algorithm>
#include <cctype>
#include <vector>

#include "policy/cache_key.h"
#include "policy/request_target.h"

namespace proxy {

namespace {

AdminError store_error(std::string_view what, const cache::Error& e) {
    return AdminError{AdminErrc::Failed, std::string(what) + ": " + cache::to_string(e)};
}

bool matches(const PurgeFilter& filter, const cache::ObjectInfo& object, int64_t now) {
    if (filter.all) return true;
    if (filter.partial && object.complete()) return false;
    if (filter.older_than_seconds && object.last_access > now - *filter.older_than_seconds) {
        return false;
    }
    return true;
}

}  // namespace

bool looks_like_object_id(std::string_view text) {
    if (text.size() != 32) return false;
    for (char c : text) {
        bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (!hex) return false;
    }
    return true;
}

std::optional<std::string> cache_key_of(std::string_view url) {
    auto target = policy::parse_absolute_target(url, /*allow_https=*/true);
    if (!target) return std::nullopt;
    return policy::cache_key(*target);
}

cache::Result<std::optional<cache::ObjectInfo>> find_object(const cache::Store& store,
                                                            std::string_view target) {
    if (looks_like_object_id(target)) {
        std::string hex(target);
        for (char& c : hex)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        auto all = store.list();
        if (!all) return policy::fail(all.error());
        for (auto& object : *all) {
            if (object.id.hex() == hex) return std::optional(std::move(object));
        }
        return std::optional<cache::ObjectInfo>{};
    }
    if (auto key = cache_key_of(target)) {
        auto found = store.lookup(*key);
        if (!found || *found) return found;
    }
    // Not a URL we can normalise, or not under its normal form: perhaps a key as stored.
    return store.lookup(target);
}

bool StoreCacheAdmin::in_use(const cache::ObjectId& id) const {
    if (!in_use_) return false;
    for (const auto& used : in_use_())
        if (used == id) return true;
    return false;
}

std::shared_ptr<CacheAdmin> StoreCacheAdmin::for_worker() const {
    auto copy = std::make_shared<StoreCacheAdmin>(store_);
    if (in_use_) copy->set_in_use([ids = in_use_()] { return ids; });
    return copy;
}

AdminResult<RemovalReport> StoreCacheAdmin::evict(std::string_view target) {
    if (target.empty()) return policy::fail(AdminError{AdminErrc::Invalid, "empty URL or id"});
    auto found = find_object(store_, target);
    if (!found) return policy::fail(store_error("lookup failed", found.error()));
    if (!*found) {
        return policy::fail(AdminError{AdminErrc::NotFound, "not cached: " + std::string(target)});
    }
    const cache::ObjectInfo& object = **found;
    if (in_use(object.id)) {
        return policy::fail(
            AdminError{AdminErrc::InUse, "in use: dlproxy is filling or serving " + object.key +
                                             "; evict it once that download is over"});
    }
    if (auto removed = store_.remove(object); !removed) {
        // Stale: replaced or removed since the lookup — either way this version is gone.
        if (removed.error() != cache::Errc::Stale) {
            return policy::fail(store_error("remove failed", removed.error()));
        }
    }
    return RemovalReport{1, object.bytes_present};
}

AdminResult<RemovalReport> StoreCacheAdmin::purge(const PurgeFilter& filter, int64_t now) {
    if (filter.empty()) {
        return policy::fail(
            AdminError{AdminErrc::Invalid, "purge needs all, older_than_seconds or partial"});
    }
    if (filter.older_than_seconds && *filter.older_than_seconds < 0) {
        return policy::fail(AdminError{AdminErrc::Invalid, "older_than_seconds must be >= 0"});
    }
    auto all = store_.list();
    if (!all) return policy::fail(store_error("cannot list the cache", all.error()));
    // Asked once per purge (each call walks the running fetches).
    std::vector<cache::ObjectId> used;
    if (in_use_) used = in_use_();
    RemovalReport report;
    for (const auto& object : *all) {
        if (!matches(filter, object, now)) continue;
        // A fill's object; the next purge takes it.
        if (std::find(used.begin(), used.end(), object.id) != used.end()) continue;
        auto removed = store_.remove(object);
        if (!removed && removed.error() == cache::Errc::Stale) continue;  // replaced meanwhile
        if (!removed) return policy::fail(store_error("remove failed", removed.error()));
        report.objects += 1;
        report.bytes += object.bytes_present;
    }
    return report;
}

AdminResult<GcReport> StoreCacheAdmin::gc() {
    GcReport report;
    // A store opened without a budget (max_bytes 0) means "no budget", not "evict everything".
    if (store_.options().max_bytes > 0) {
        auto evicted = store_.evict_to_budget(store_.options().max_bytes, {});
        if (!evicted) return policy::fail(store_error("eviction failed", evicted.error()));
        report.objects_removed = evicted->objects_removed;
        report.bytes_freed = evicted->bytes_freed;
    }
    // remove_orphan_files() is meant for start-up. While dlproxy runs, an object removed and
    // created again between its directory scan and its unlink could lose its new body file;
    // that window is a few microseconds, and the chunks then read as missing and are fetched
    // again, so a gc on a running proxy costs at worst a refetch, never wrong bytes.
    auto orphans = store_.remove_orphan_files();
    if (!orphans) return policy::fail(store_error("orphan cleanup failed", orphans.error()));
    report.orphan_files_removed = *orphans;
    auto stats = store_.stats();
    if (!stats) return policy::fail(store_error("cannot read the totals", stats.error()));
    report.bytes_present = stats->bytes_present;
    return report;
}

std::optional<cache::Stats> StoreCacheAdmin::stats() const {
    auto stats = store_.stats();
    if (!stats) return std::nullopt;
    return *stats;
}

}  // namespace proxy
