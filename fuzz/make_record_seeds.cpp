// Writes the seed corpus of record_fuzzer: real encodings of the cache records, each prefixed
// with the selector byte record_fuzzer reads. Run once by hand (the seeds are committed):
//
//   build/fuzz/make_record_seeds fuzz/corpus/record_fuzzer
#include <cstdio>
#include <string>
#include <vector>

#include "cache/record_codec.h"

namespace {

namespace cd = cache::detail;

template <class Container>
void write_seed(const std::string& dir, const char* name, uint8_t selector, const Container& rec) {
    std::string path = dir + "/" + name;
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) {
        std::perror(path.c_str());
        std::exit(1);
    }
    std::fputc(selector, f);
    std::fwrite(rec.data(), 1, rec.size(), f);
    std::fclose(f);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    const std::string dir = argv[1];

    cache::ObjectInfo partial;
    partial.generation = 7;
    partial.key = "http://cdn-lfs.hf.co/repos/ab/cd/model.safetensors";
    partial.status = 200;
    partial.headers = {{"Content-Type", "application/octet-stream"},
                       {"ETag", "\"5d41402abc4b2a76b9719d911017c592\""},
                       {"Accept-Ranges", "bytes"}};
    partial.validator.etag = "\"5d41402abc4b2a76b9719d911017c592\"";
    partial.complete_length = 10'000'000;
    partial.bytes_present = cache::kDefaultChunkSize;
    partial.request_time = 1700000000;
    partial.response_time = 1700000001;
    partial.created = 1700000001;
    partial.last_access = 1700000100;
    partial.hit_count = 3;
    write_seed(dir, "object-partial", 0, cd::encode_object(partial));

    cache::ObjectInfo complete = partial;
    complete.state = cache::ObjectState::Complete;
    complete.bytes_present = complete.complete_length;
    complete.validator = {"", "Sun, 06 Nov 1994 08:49:37 GMT"};
    write_seed(dir, "object-complete", 0, cd::encode_object(complete));

    cache::ObjectInfo empty;
    empty.key = "http://example.com/empty";
    empty.status = 200;
    empty.state = cache::ObjectState::Complete;
    empty.chunk_size = 1;
    write_seed(dir, "object-empty", 0, cd::encode_object(empty));

    write_seed(dir, "chunk", 1,
               cd::encode_chunk({cache::kDefaultChunkSize, 0x9e3779b97f4a7c15, 7}));
    write_seed(dir, "counters", 2, cd::encode_counters({42, 10, 8, 123456789}));
    write_seed(dir, "schema", 3, cd::encode_schema(1));
    cache::ObjectId id;
    for (size_t i = 0; i < id.bytes.size(); ++i)
        id.bytes[i] = std::byte(static_cast<uint8_t>(i * 17));
    write_seed(dir, "chunk-key", 4, cd::chunk_key(id, 258));
    write_seed(dir, "object-key", 5, id.bytes);
    return 0;
}
