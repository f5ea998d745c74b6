#include "cache/aligned_bytes.h"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace cache {

namespace {

constexpr size_t kMapThreshold = 64 * 1024;
constexpr size_t kPoolLimitBytes = 16u << 20;

size_t mapped_size(size_t bytes) {
    return (bytes + kDirectIoAlignment - 1) / kDirectIoAlignment * kDirectIoAlignment;
}

struct Pool {
    std::mutex mutex;
    std::unordered_map<size_t, std::vector<void*>> free_by_size;
    size_t pooled_bytes = 0;
};

// Bytes handed out by allocate_aligned and not yet freed (pooled buffers not included).
std::atomic<uint64_t> g_in_use{0};

Pool& pool() {
    static Pool* p = new Pool;  // never destroyed: buffers may be freed during static teardown
    return *p;
}

void* allocate_unaccounted(size_t bytes) {
    if (bytes < kMapThreshold) return ::operator new (bytes, std::align_val_t{kDirectIoAlignment});
    size_t size = mapped_size(bytes);
    {
        Pool& p = pool();
        std::lock_guard lock(p.mutex);
        auto it = p.free_by_size.find(size);
        if (it != p.free_by_size.end() && !it->second.empty()) {
            void* reused = it->second.back();
            it->second.pop_back();
            p.pooled_bytes -= size;
            return reused;
        }
    }
    void* mem = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) throw std::bad_alloc();
    return mem;
}

}  // namespace

uint64_t aligned_bytes_in_use() {
    return g_in_use.load(std::memory_order_relaxed);
}

void* allocate_aligned(size_t bytes) {
    void* mem = allocate_unaccounted(bytes);
    g_in_use.fetch_add(bytes, std::memory_order_relaxed);
    return mem;
}

void free_aligned(void* mem, size_t bytes) noexcept {
    if (!mem) return;
    g_in_use.fetch_sub(bytes, std::memory_order_relaxed);
    if (bytes < kMapThreshold) {
        ::operator delete (mem, std::align_val_t{kDirectIoAlignment});
        return;
    }
    size_t size = mapped_size(bytes);
    {
        Pool& p = pool();
        std::lock_guard lock(p.mutex);
        if (p.pooled_bytes + size <= kPoolLimitBytes) {
            try {
                p.free_by_size[size].push_back(mem);
                p.pooled_bytes += size;
                return;
            } catch (...) {
                // No memory for the pool's bookkeeping: unmap instead.
            }
        }
    }
    ::munmap(mem, size);
}

void AlignedBytes::reserve(size_t n) {
    if (n <= capacity_) return;
    auto* grown = static_cast<std::byte*>(allocate_aligned(n));
    if (size_ > 0) std::memcpy(grown, data_, size_);
    free_aligned(data_, capacity_);
    data_ = grown;
    capacity_ = n;
}

void AlignedBytes::append(const std::byte* bytes, size_t n) {
    if (n == 0) return;
    if (size_ + n > capacity_) reserve(std::max(size_ + n, capacity_ * 2));
    std::memcpy(data_ + size_, bytes, n);
    size_ += n;
}

}  // namespace cache
