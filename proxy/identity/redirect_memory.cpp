#include "proxy/identity/redirect_memory.h"

#include <spdlog/spdlog.h>

#include "policy/cache_key.h"
#include "policy/content_digest.h"
#include "policy/request_target.h"
#include "proxy/loop/clock.h"
#include "proxy/loop/worker.h"

namespace proxy {

namespace {

bool is_redirect(int status) {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

}  // namespace

RedirectMemory::RedirectMemory(uv_loop_t* loop, cache::Store& store,
                               std::vector<policy::KeyRule> key_rules, size_t capacity)
    : loop_(loop),
      store_(store),
      key_rules_(std::move(key_rules)),
      capacity_(capacity == 0 ? 1 : capacity) {}

std::optional<std::string> RedirectMemory::key_of(const std::string& url) const {
    auto target = policy::parse_absolute_target(url, true);
    if (!target) return std::nullopt;
    return policy::cache_key(*target, key_rules_);
}

std::optional<std::string> RedirectMemory::absolute_location(const std::string& base,
                                                             std::string_view location) {
    if (location.starts_with("http://") || location.starts_with("https://"))
        return std::string(location);
    // Absolute-path reference (Hugging Face's small files: 307 to /api/resolve-cache/...).
    if (!location.starts_with("/") || location.starts_with("//")) return std::nullopt;
    auto target = policy::parse_absolute_target(base, true);
    if (!target) return std::nullopt;
    return target->scheme + "://" + target->host_header() + std::string(location);
}

void RedirectMemory::remember(const UpstreamRequest& request, int status,
                              const policy::HeaderList& headers) {
    if (!is_redirect(status) || (request.method != "GET" && request.method != "HEAD")) return;
    auto location = policy::find_header(headers, "location");
    if (!location) return;
    auto absolute = absolute_location(request.url, *location);
    if (!absolute) return;
    auto location_key = key_of(*absolute);
    auto resolve_key = key_of(request.url);
    if (!location_key || !resolve_key) return;
    RememberedRedirect r;
    r.request = request;
    // A refresh re-sends the redirecting request as a GET: the client may have asked HEAD.
    r.request.method = "GET";
    r.request.has_body = false;
    r.request.body_length = -1;
    r.resolve_key = std::move(*resolve_key);
    r.location = std::move(*absolute);
    r.location_key = std::move(*location_key);
    r.sha256 = policy::announced_sha256(headers);
    r.size = policy::announced_size(headers);
    if (auto commit = policy::find_header(headers, "x-repo-commit")) r.commit = *commit;
    spdlog::debug("redirect {} -> {}{}", r.resolve_key, r.location_key,
                  r.sha256 ? " (sha256 " + *r.sha256 + ")" : std::string());
    persist(r);
    insert(std::move(r));
}

void RedirectMemory::insert(RememberedRedirect r) {
    if (auto it = by_location_.find(r.location_key); it != by_location_.end()) {
        order_.erase(it->second);
        by_location_.erase(it);
    }
    order_.push_front(std::move(r));
    by_location_[order_.front().location_key] = order_.begin();
    while (order_.size() > capacity_) {
        by_location_.erase(order_.back().location_key);
        order_.pop_back();
    }
}

// Only a redirect that named its content is written: the facts are what the offline answer
// needs, and without a digest nothing proves a cached object is the one the URL means. The
// resolve key is a cache key like any object's (Hugging Face's resolve URLs carry no query);
// the location key is kept only when it carries no query (a signed URL's key may, on a host
// without key rules), so no signature reaches the disk.
void RedirectMemory::persist(const RememberedRedirect& r) {
    if (!r.sha256) return;
    cache::ResolveFacts facts;
    facts.sha256 = *r.sha256;
    facts.size = r.size.value_or(0);
    if (r.location_key.find('?') == std::string::npos) facts.location_key = r.location_key;
    facts.commit = r.commit;
    if (auto it = persisted_.find(r.resolve_key); it != persisted_.end()) {
        cache::ResolveFacts previous = it->second;
        previous.seen = 0;
        if (previous == facts) return;
    }
    facts.seen = wall_seconds();
    if (persisted_.size() >= capacity_) persisted_.clear();  // a hint cache: start over
    persisted_[r.resolve_key] = facts;
    cache::Store* store = &store_;
    std::string key = r.resolve_key;
    auto result = std::make_shared<cache::Result<void>>();
    run_on_worker(
        loop_, [store, key, facts, result] { *result = store->put_resolve(key, facts); },
        [key, result] {
            if (!*result)
                spdlog::warn("cannot store what the redirect of {} announced: {}", key,
                             cache::to_string(result->error()));
        });
}

const RememberedRedirect* RedirectMemory::by_location(const std::string& location_key) const {
    auto it = by_location_.find(location_key);
    return it == by_location_.end() ? nullptr : &*it->second;
}

std::string RedirectMemory::storage_key(const std::string& key) const {
    const RememberedRedirect* r = by_location(key);
    if (!r || !r->sha256) return key;
    return policy::content_key(*r->sha256);
}

std::string RedirectMemory::moved(const std::string& old_location_key,
                                  const std::string& new_location) {
    auto new_key = key_of(new_location).value_or(old_location_key);
    auto it = by_location_.find(old_location_key);
    if (it == by_location_.end()) return new_key;
    RememberedRedirect r = *it->second;
    r.location = new_location;
    r.location_key = new_key;
    insert(std::move(r));
    return new_key;
}

std::optional<cache::ResolveFacts> RedirectMemory::facts(const std::string& resolve_key) const {
    if (auto it = persisted_.find(resolve_key); it != persisted_.end()) return it->second;
    auto stored = store_.lookup_resolve(resolve_key);
    if (!stored || !*stored) return std::nullopt;
    return **stored;
}

}  // namespace proxy
