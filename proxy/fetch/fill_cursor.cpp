// FillCursor: taking body bytes into chunks.
#include "proxy/fetch/fill_cursor.h"

#include <algorithm>

namespace proxy {

size_t FillCursor::take(const std::byte* data, size_t size, size_t chunk_length) {
    const size_t n = chunk_.fill_to(
        chunk_length, data, static_cast<size_t>(std::min<uint64_t>(size, run_end_ - next_)));
    next_ += n;
    return n;
}

std::shared_ptr<Chunk> FillCursor::seal() {
    auto chunk = std::make_shared<Chunk>();
    chunk->index = chunk_index_;
    chunk->bytes = std::move(chunk_);
    ++chunk_index_;
    chunk_ = {};
    return chunk;
}

}  // namespace proxy
