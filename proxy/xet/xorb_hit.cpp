#include "proxy/xet/xorb_hit.h"

#include <fmt/format.h>

#include <memory>

#include "cache/store.h"
#include "policy/multipart.h"
#include "proxy/loop/worker.h"

namespace proxy::xet {

namespace {

constexpr std::string_view kPartType = "application/octet-stream";

XorbAnswer miss(std::string why) {
    XorbAnswer a;
    a.why = std::move(why);
    return a;
}

// The store side, on a worker thread.
XorbAnswer read_answer(cache::Store& store, const std::string& key, const std::string& range_value,
                       uint64_t seed, int64_t now) {
    auto found = store.lookup(key);
    if (!found) return miss(std::string(cache::to_string(found.error())));
    if (!*found) return miss("xorb not cached");
    const cache::ObjectInfo& object = **found;
    auto ranges = policy::xorb_ranges(range_value, object.complete_length);
    if (!ranges) return miss("Range not answered from the cache");
    uint64_t total = 0;
    for (const auto& r : *ranges)
        total += r.length();
    if (total > kMaxHitBytes) return miss("request over kMaxHitBytes");
    std::vector<std::byte> bytes;
    bytes.reserve(total);
    if (auto read = store.read_extents(object, *ranges, bytes); !read) {
        return miss(read.error() == cache::Errc::Missing && bytes.empty()
                        ? std::string("ranges not all cached")
                        : "stored bytes failed verification: " + cache::to_string(read.error()));
    }
    (void)store.touch(object, now);  // the LRU order; a failure only ages the entry
    const std::string_view view(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return format_xorb_answer(*ranges, object.complete_length, view, seed);
}

}  // namespace

XorbAnswer format_xorb_answer(const std::vector<policy::ByteRange>& ranges,
                              uint64_t complete_length, std::string_view bytes,
                              uint64_t boundary_seed) {
    XorbAnswer a;
    a.hit = true;
    if (ranges.size() == 1) {
        a.headers = {{"Content-Type", std::string(kPartType)},
                     {"Content-Range", policy::format_content_range(ranges[0], complete_length)}};
        a.body.assign(bytes);
    } else {
        const std::string boundary = fmt::format("dlproxy-{:016x}", boundary_seed);
        size_t at = 0;
        for (const auto& r : ranges) {
            a.body += policy::multipart_part_head(boundary, kPartType, r, complete_length);
            a.body.append(bytes.substr(at, r.length()));
            at += r.length();
        }
        a.body += policy::multipart_close_delimiter(boundary);
        a.headers = {{"Content-Type", policy::byteranges_content_type(boundary)}};
    }
    a.headers.push_back({"Content-Length", std::to_string(a.body.size())});
    return a;
}

bool lookup_xorb(uv_loop_t* loop, cache::Store& store, const policy::XorbTarget& xorb,
                 std::string range_value, uint64_t boundary_seed, int64_t now,
                 std::function<void(XorbAnswer)> done) {
    auto answer = std::make_shared<XorbAnswer>();
    cache::Store* s = &store;
    return run_on_worker(
        loop,
        [answer, s, key = xorb.key(), range_value = std::move(range_value), boundary_seed, now] {
            *answer = read_answer(*s, key, range_value, boundary_seed, now);
        },
        [answer, done = std::move(done)] { done(std::move(*answer)); });
}

}  // namespace proxy::xet
