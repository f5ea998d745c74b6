// AlignedBytes: a byte vector whose storage starts on a 4 KiB boundary.
//
// BodyFiles writes whole chunks with O_DIRECT (see body_files.cpp for why), which needs the
// buffer, the file offset and the length aligned to the device's logical block size. Chunk
// offsets and lengths (but the last) are multiples of the chunk size; this allocator aligns the
// memory. A buffer that is not aligned still works: it is written through the page cache.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

namespace cache {

inline constexpr size_t kDirectIoAlignment = 4096;

// Page-aligned storage. Sizes from 64 KiB up (chunks) are mapped with mmap and, when freed, kept
// in a small process-wide pool (at most 16 MiB) for the next chunk of the same size: aligned
// allocations from malloc fragmented its heap to ~90 MiB during a 1 GiB fill, and fresh mappings
// for every chunk would fault in (and zero) 256 new pages per MiB. Thread-safe: chunks are
// allocated on the loop thread and freed on whichever thread drops the last reference.
void* allocate_aligned(size_t bytes);
void free_aligned(void* p, size_t bytes) noexcept;
// Bytes allocated and not yet freed, whoever holds them (pooled free buffers not counted): every
// chunk buffer of the process, which proxy/'s memory budget is measured by.
uint64_t aligned_bytes_in_use();

// A growable byte buffer in page-aligned storage. Unlike std::vector with a custom allocator
// (whose element-wise copies libstdc++ does not turn into memcpy: 13% of a cold fill's CPU), it
// appends with memcpy and grows without zeroing.
class AlignedBytes {
  public:
    AlignedBytes() = default;
    AlignedBytes(AlignedBytes&& other) noexcept { swap(other); }
    AlignedBytes& operator=(AlignedBytes&& other) noexcept {
        AlignedBytes(std::move(other)).swap(*this);
        return *this;
    }
    AlignedBytes(const AlignedBytes&) = delete;
    AlignedBytes& operator=(const AlignedBytes&) = delete;
    ~AlignedBytes() { free_aligned(data_, capacity_); }

    std::byte* data() { return data_; }
    const std::byte* data() const { return data_; }
    size_t size() const { return size_; }
    size_t capacity() const { return capacity_; }
    bool empty() const { return size_ == 0; }
    std::byte back() const { return data_[size_ - 1]; }
    operator std::span<std::byte>() { return {data_, size_}; }
    operator std::span<const std::byte>() const { return {data_, size_}; }

    void reserve(size_t n);
    // Grows or shrinks to n bytes; new bytes are not initialised.
    void resize(size_t n) {
        reserve(n);
        size_ = n;
    }
    void append(const std::byte* bytes, size_t n);
    // Appends the first bytes of [bytes, bytes + n) until size() reaches `target` (reserving it
    // first); returns how many were taken. Filling a chunk from pieces of a body.
    size_t fill_to(size_t target, const std::byte* bytes, size_t n) {
        if (capacity_ < target) reserve(target);
        size_t take = size_ < target ? std::min(n, target - size_) : 0;
        append(bytes, take);
        return take;
    }
    void clear() { size_ = 0; }
    void swap(AlignedBytes& other) noexcept {
        std::swap(data_, other.data_);
        std::swap(size_, other.size_);
        std::swap(capacity_, other.capacity_);
    }

  private:
    std::byte* data_ = nullptr;
    size_t size_ = 0;
    size_t capacity_ = 0;
};

}  // namespace cache
