// fill_cache: writes N small complete objects into a cache directory through cache::Store, for
// tests that need a big cache quickly (tests/integration/test_ctl.py: `ls` on 10,000 objects).
//
//   fill_cache DIR N [SIZE]   keys http://fill.test/obj/<i>, SIZE bytes each (default 100)
//
// NoSync durability: the point is speed, and a test cache need not survive a power cut.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cache/store.h"

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: fill_cache DIR N [SIZE]\n");
        return 2;
    }
    const uint64_t count = std::strtoull(argv[2], nullptr, 10);
    const uint64_t size = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 100;
    cache::Options options;
    options.durability = cache::Durability::NoSync;
    auto store = cache::Store::open(argv[1], options);
    if (!store) {
        std::fprintf(stderr, "fill_cache: %s\n", cache::to_string(store.error()).c_str());
        return 1;
    }
    for (uint64_t i = 0; i < count; ++i) {
        cache::ObjectHead head;
        head.key = "http://fill.test/obj/" + std::to_string(i);
        head.headers = {{"Content-Type", "application/octet-stream"},
                        {"Content-Length", std::to_string(size)}};
        head.validator.etag = "\"fill-" + std::to_string(i) + "\"";
        head.complete_length = size;
        head.request_time = head.response_time = 1700000000 + static_cast<int64_t>(i);
        auto object = (*store)->begin_object(head, head.response_time);
        if (!object) {
            std::fprintf(stderr, "fill_cache: %s\n", cache::to_string(object.error()).c_str());
            return 1;
        }
        std::vector<std::byte> body(size, std::byte(i & 0xff));
        std::vector<cache::ChunkWrite> writes;
        for (uint32_t c = 0; c < object->chunk_count(); ++c)
            writes.push_back(
                {c, std::span(body).subspan(object->chunk_begin(c), object->chunk_length(c))});
        if (auto written = (*store)->write_chunks(*object, writes); !written) {
            std::fprintf(stderr, "fill_cache: %s\n", cache::to_string(written.error()).c_str());
            return 1;
        }
        if (auto done = (*store)->mark_complete(*object); !done) {
            std::fprintf(stderr, "fill_cache: %s\n", cache::to_string(done.error()).c_str());
            return 1;
        }
    }
    return 0;
}
