#include "cache/body_files.h"

#include "cache/aligned_bytes.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace cache {

namespace {

class Fd {
  public:
    explicit Fd(int fd) : fd_(fd) {}
    Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    Fd& operator=(Fd&& other) noexcept {
        std::swap(fd_, other.fd_);
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    int get() const { return fd_; }

  private:
    int fd_;
};

Result<Fd> open_file(const std::filesystem::path& path, int flags) {
    int fd;
    do {
        fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) return policy::fail(from_errno(errno));
    return Fd(fd);
}

Result<void> make_dir(const std::filesystem::path& dir) {
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return policy::fail(from_errno(errno));
    return {};
}

Result<void> sync_dir(const std::filesystem::path& dir) {
    auto fd = open_file(dir, O_RDONLY | O_DIRECTORY);
    if (!fd) return policy::fail(fd.error());
    if (::fsync(fd->get()) != 0) return policy::fail(from_errno(errno));
    return {};
}

Result<void> write_all(int fd, uint64_t offset, std::span<const std::byte> bytes) {
    while (!bytes.empty()) {
        ssize_t n = ::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset));
        if (n < 0) {
            if (errno == EINTR) continue;
            return policy::fail(from_errno(errno));
        }
        bytes = bytes.subspan(static_cast<size_t>(n));
        offset += static_cast<uint64_t>(n);
    }
    return {};
}

constexpr size_t kMaxIovecs = 64;
constexpr off_t kReadAheadBytes = 8 << 20;

bool direct_writable(const Extent& e) {
    return !e.bytes.empty() && e.offset % kDirectIoAlignment == 0 &&
           e.bytes.size() % kDirectIoAlignment == 0 &&
           reinterpret_cast<uintptr_t>(e.bytes.data()) % kDirectIoAlignment == 0;
}

// pwritev of extents that follow each other in the file, resuming after short writes.
Result<void> writev_all(int fd, std::span<const Extent> extents) {
    std::vector<iovec> iov;
    iov.reserve(extents.size());
    for (const Extent& e : extents)
        iov.push_back({const_cast<std::byte*>(e.bytes.data()), e.bytes.size()});
    uint64_t offset = extents.front().offset;
    size_t first = 0;
    while (first < iov.size()) {
        ssize_t n = ::pwritev(fd, iov.data() + first, static_cast<int>(iov.size() - first),
                              static_cast<off_t>(offset));
        if (n < 0) {
            if (errno == EINTR) continue;
            return policy::fail(from_errno(errno));
        }
        offset += static_cast<uint64_t>(n);
        auto left = static_cast<size_t>(n);
        while (first < iov.size() && left >= iov[first].iov_len)
            left -= iov[first++].iov_len;
        if (first < iov.size()) {
            iov[first].iov_base = static_cast<std::byte*>(iov[first].iov_base) + left;
            iov[first].iov_len -= left;
        }
    }
    return {};
}

std::optional<ObjectId> id_from_file_name(const std::string& name) {
    static constexpr std::string_view kSuffix = ".body";
    ObjectId id;
    if (name.size() != id.bytes.size() * 2 + kSuffix.size() || !name.ends_with(kSuffix)) {
        return std::nullopt;
    }
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
    };
    for (size_t i = 0; i < id.bytes.size(); ++i) {
        int hi = nibble(name[2 * i]);
        int lo = nibble(name[2 * i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        id.bytes[i] = std::byte(static_cast<uint8_t>(hi << 4 | lo));
    }
    return id;
}

}  // namespace

BodyFiles::BodyFiles(std::filesystem::path data_dir, bool sync, const BlockingGuard* guard)
    : data_dir_(std::move(data_dir)), sync_(sync), guard_(guard) {}

std::filesystem::path BodyFiles::path_for(const ObjectId& id) const {
    std::string hex = id.hex();
    return data_dir_ / hex.substr(0, 2) / (hex + ".body");
}

Result<void> BodyFiles::reset(const ObjectId& id) const {
    std::filesystem::path path = path_for(id);
    auto fd = open_file(path, O_WRONLY | O_TRUNC);
    if (fd) return {};
    if (fd.error().native != ENOENT) return policy::fail(fd.error());
    if (auto made = make_dir(path.parent_path()); !made) return made;
    fd = open_file(path, O_WRONLY | O_CREAT | O_TRUNC);
    if (!fd) return policy::fail(fd.error());
    if (sync_) {
        check_blocking(guard_, "fsync of a body directory");
        return sync_dir(path.parent_path());
    }
    return {};
}

// Aligned parts of each extent are written with O_DIRECT: from our buffer straight to the
// device, without copying into the page cache. On the 2-core VMs this runs on, a buffered pwrite
// cost ~3 CPU s per GiB (the kernel copying into freshly faulted page-cache pages) and made a
// cold miss 4x slower than pass-through (docs/benchmarks.md). The rest (the last chunk's tail, a
// buffer not aligned) goes through a buffered descriptor. A file system without O_DIRECT
// (tmpfs) answers EINVAL, after which this BodyFiles writes everything buffered.
Result<void> BodyFiles::write(const ObjectId& id, std::span<const Extent> extents,
                              bool sync) const {
    std::filesystem::path path = path_for(id);
    auto fd = open_file(path, O_WRONLY | O_CREAT);
    if (!fd && fd.error().native == ENOENT) {
        if (auto made = make_dir(path.parent_path()); !made) return made;
        fd = open_file(path, O_WRONLY | O_CREAT);
    }
    if (!fd) return policy::fail(fd.error());
    std::optional<Fd> direct;
    size_t i = 0;
    while (i < extents.size()) {
        // A run of aligned extents that follow each other in the file goes out as one O_DIRECT
        // pwritev: the disks here write 4 MiB requests up to twice as fast as 1 MiB ones.
        size_t end = i;
        while (direct_io_.load(std::memory_order_relaxed) && end < extents.size() &&
               end - i < kMaxIovecs && direct_writable(extents[end]) &&
               (end == i ||
                extents[end].offset == extents[end - 1].offset + extents[end - 1].bytes.size())) {
            ++end;
        }
        if (end > i && !direct) {
            auto opened = open_file(path, O_WRONLY | O_DIRECT);
            if (opened) {
                direct.emplace(std::move(*opened));
            } else if (opened.error().native == EINVAL) {
                direct_io_.store(false, std::memory_order_relaxed);
                end = i;
            } else {
                return policy::fail(opened.error());
            }
        }
        if (end > i) {
            auto written = writev_all(direct->get(), extents.subspan(i, end - i));
            if (written) {
                i = end;
                continue;
            }
            if (written.error().native != EINVAL) return written;
            direct_io_.store(false, std::memory_order_relaxed);  // rewrite it buffered
        }
        // Buffered: a part that is not aligned (the last chunk of an object), or no O_DIRECT.
        if (auto written = write_all(fd->get(), extents[i].offset, extents[i].bytes); !written) {
            return written;
        }
        ++i;
    }
    // fdatasync before the caller commits chunk records: a record never points at bytes that a
    // power loss could take back (O_DIRECT bytes may still sit in the device's write cache, and
    // the file's block allocation is metadata). Errors here (EIO, ENOSPC on some file systems)
    // fail the write.
    if (sync && sync_) {
        check_blocking(guard_, "fdatasync of a body file");
        if (::fdatasync(fd->get()) != 0) return policy::fail(from_errno(errno));
    }
    return {};
}

Result<void> BodyFiles::sync(const ObjectId& id) const {
    if (!sync_) return {};
    check_blocking(guard_, "fdatasync of a body file");
    auto fd = open_file(path_for(id), O_WRONLY);
    if (!fd) return policy::fail(fd.error());
    if (::fdatasync(fd->get()) != 0) return policy::fail(from_errno(errno));
    return {};
}

namespace {

// pread until `buffer` is full. Missing when the file ends first.
Result<void> read_all(int fd, uint64_t offset, std::span<std::byte> buffer) {
    while (!buffer.empty()) {
        ssize_t n = ::pread(fd, buffer.data(), buffer.size(), static_cast<off_t>(offset));
        if (n < 0) {
            if (errno == EINTR) continue;
            return policy::fail(from_errno(errno));
        }
        if (n == 0) return fail(Errc::Missing);  // the file ends before the chunk does
        buffer = buffer.subspan(static_cast<size_t>(n));
        offset += static_cast<uint64_t>(n);
    }
    return {};
}

// Whether every page of [offset, offset + length) is in the page cache (mincore on a mapping that
// is never touched, so asking faults nothing in). A failure to ask counts as "no".
bool in_page_cache(int fd, uint64_t offset, size_t length) {
    static const auto page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
    if (length == 0) return true;
    uint64_t begin = offset / page * page;
    size_t span = static_cast<size_t>(offset + length - begin);
    void* map = ::mmap(nullptr, span, PROT_READ, MAP_SHARED, fd, static_cast<off_t>(begin));
    if (map == MAP_FAILED) return false;
    std::vector<unsigned char> resident((span + page - 1) / page);
    bool all = ::mincore(map, span, resident.data()) == 0;
    for (size_t i = 0; all && i < resident.size(); ++i)
        all = (resident[i] & 1) != 0;
    ::munmap(map, span);
    return all;
}

bool direct_readable(uint64_t offset, std::span<std::byte> buffer) {
    return offset % kDirectIoAlignment == 0 && buffer.size() >= kDirectIoAlignment &&
           reinterpret_cast<uintptr_t>(buffer.data()) % kDirectIoAlignment == 0;
}

}  // namespace

// Bytes the page cache already holds are read from it (a hot object, or bytes written buffered).
// Others come from the device with O_DIRECT into the caller's buffer: chunks are written with
// O_DIRECT, so right after a fill none of the object is cached, and a buffered read would first
// fill freshly allocated page-cache pages and then copy them out. On the 2-core VMs here that
// copy cost 1.4 CPU s per GiB (the first hit after a fill burned 2.5 CPU s/GiB in all), against
// 0.08 for a direct read (docs/benchmarks.md, "The first hit"). The unaligned tail of a last
// chunk is read buffered.
Result<void> BodyFiles::read(const ObjectId& id, uint64_t offset,
                             std::span<std::byte> buffer) const {
    auto fd = open_file(path_for(id), O_RDONLY);
    if (!fd) return policy::fail(fd.error());
    if (in_page_cache(fd->get(), offset, buffer.size())) {
        if (auto read = read_all(fd->get(), offset, buffer); !read) return read;
        // One descriptor per call: the kernel's per-descriptor readahead never builds up, so
        // ask for the next few MiB of a cached object now.
        (void)::posix_fadvise(fd->get(), static_cast<off_t>(offset + buffer.size()),
                              kReadAheadBytes, POSIX_FADV_WILLNEED);
        return {};
    }
    if (direct_io_.load(std::memory_order_relaxed) && direct_readable(offset, buffer)) {
        size_t aligned = buffer.size() / kDirectIoAlignment * kDirectIoAlignment;
        auto direct = open_file(path_for(id), O_RDONLY | O_DIRECT);
        Result<void> read = direct ? read_all(direct->get(), offset, buffer.first(aligned))
                                   : Result<void>(policy::fail(direct.error()));
        if (read) {
            buffer = buffer.subspan(aligned);
            offset += aligned;
        } else if (read.error().native == EINVAL) {
            direct_io_.store(false, std::memory_order_relaxed);  // no O_DIRECT here (tmpfs)
        } else {
            return read;
        }
    }
    return read_all(fd->get(), offset, buffer);
}

Result<void> BodyFiles::discard(const ObjectId& id, uint64_t begin, uint64_t end) const {
    if (end <= begin) return {};
    auto fd = open_file(path_for(id), O_WRONLY);
    if (!fd) return policy::fail(fd.error());
    if (::fallocate(fd->get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                    static_cast<off_t>(begin), static_cast<off_t>(end - begin)) != 0)
        return policy::fail(from_errno(errno));
    return {};
}

Result<void> BodyFiles::remove(const ObjectId& id) const {
    check_blocking(guard_, "unlink of a body file");
    if (::unlink(path_for(id).c_str()) != 0 && errno != ENOENT) {
        return policy::fail(from_errno(errno));
    }
    return {};
}

Result<void> BodyFiles::for_each_file(const std::function<void(const ObjectId&)>& visit) const {
    std::error_code ec;
    for (std::filesystem::directory_iterator dirs(data_dir_, ec), end; !ec && dirs != end;
         dirs.increment(ec)) {
        if (!dirs->is_directory(ec)) continue;
        for (std::filesystem::directory_iterator files(dirs->path(), ec); !ec && files != end;
             files.increment(ec)) {
            if (auto id = id_from_file_name(files->path().filename().string())) visit(*id);
        }
    }
    if (ec && ec != std::errc::no_such_file_or_directory) return fail(Errc::Io, ec.value());
    return {};
}

}  // namespace cache
