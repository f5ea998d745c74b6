// FillCursor: taking body bytes into chunks.
#include "proxy/fetch/fill_cursor.h"

#include <algorithm>

namespace proxy {

size_t FillCursor::take(const std::byte* data, size_t size, size_t chunk_length) {
    if (!chunk_) {
        chunk_ = std::make_shared<Chunk>();
        chunk_->index = chunk_index_;
    }
    const size_t n = chunk_->bytes.fill_to(
        chunk_length, data, static_cast<size_t>(std::min<uint64_t>(size, run_end_ - next_)));
    next_ += n;
    return n;
}

std::shared_ptr<Chunk> FillCursor::seal() {
    auto chunk = chunk_ ? std::move(chunk_) : std::make_shared<Chunk>();
    chunk->index = chunk_index_;
    ++chunk_index_;
    return chunk;
}

}  // namespace proxy
