// Helpers shared by the cache tests: a fresh temporary directory per test and byte utilities.
#pragma once

#include <doctest/doctest.h>
#include <stdlib.h>

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "cache/store.h"

namespace cache::test {

// A fresh directory under /tmp, removed with everything in it when the test ends.
class TempDir {
  public:
    TempDir() {
        std::string pattern = "/tmp/dlproxy-cache-test-XXXXXX";
        REQUIRE(mkdtemp(pattern.data()) != nullptr);
        path_ = pattern;
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    const std::filesystem::path& path() const { return path_; }

  private:
    std::filesystem::path path_;
};

// `n` bytes whose values depend on `seed`, so chunks of different objects differ.
inline std::vector<std::byte> pattern_bytes(size_t n, unsigned seed) {
    std::vector<std::byte> out(n);
    for (size_t i = 0; i < n; ++i)
        out[i] = std::byte(static_cast<uint8_t>(seed * 31 + i * 7));
    return out;
}

inline Options small_chunks(uint32_t chunk_size = 16) {
    Options options;
    options.chunk_size = chunk_size;
    options.map_size = uint64_t{64} << 20;
    return options;
}

inline std::unique_ptr<Store> open_store(const std::filesystem::path& dir,
                                         const Options& options = small_chunks()) {
    auto store = Store::open(dir, options);
    REQUIRE_MESSAGE(store.has_value(), to_string(store.error()));
    return std::move(*store);
}

inline ObjectHead head_for(std::string key, uint64_t complete_length) {
    ObjectHead head;
    head.key = std::move(key);
    head.status = 200;
    head.headers = {{"Content-Type", "application/octet-stream"}, {"ETag", "\"v1\""}};
    head.validator.etag = "\"v1\"";
    head.complete_length = complete_length;
    head.request_time = 1000;
    head.response_time = 1001;
    return head;
}

// Writes every chunk of `object` from `body`.
inline void write_all_chunks(Store& store, const ObjectInfo& object,
                             const std::vector<std::byte>& body) {
    for (uint32_t i = 0; i < object.chunk_count(); ++i) {
        auto chunk = std::span(body).subspan(object.chunk_begin(i), object.chunk_length(i));
        auto written = store.write_chunk(object, i, chunk);
        REQUIRE_MESSAGE(written.has_value(), to_string(written.error()));
    }
}

}  // namespace cache::test
