// hit_limit: what a verified hit could cost at best on this machine (issue 18, docs/benchmarks.md
// "The copy-and-verify limit"). It serves one stored body the way dlproxy's hit must, and nothing
// else: read it from the device with O_DIRECT in 1 MiB chunks, hash each chunk with XXH3 (the
// check every read of a stored chunk makes), and copy it into the socket. A reader thread reads
// and hashes ahead into a ring of four buffers while the main thread sends, so the two overlap
// as dlproxy's worker reads overlap its sends. No event loop, no HTTP parsing beyond the end of
// the request head, no cache index: the floor under dlproxy's hit, to measure it against.
//
//   hit_limit FILE LENGTH [MODE]
// Prints `listening on 127.0.0.1:PORT` once it accepts, answers the first connection's request
// with `200` and LENGTH bytes of FILE from offset 0, then prints `cpu_seconds S` (user + system
// of the whole process) and exits. Binds 127.0.0.1 only.
//
// MODE is how the bytes get from the file to the socket:
//   direct         (default) as above: O_DIRECT read, XXH3, send; what dlproxy's hit does.
//   mapped         verified without a copy into the socket: each chunk is mapped and locked in
//                  the page cache (mmap + mlock: the pages cannot be evicted and read again
//                  between the check and the send), hashed where it lies, then `sendfile`d.
//   sendfile       not verified: `sendfile` of the page cache, as nginx serves its cache files.
//   sendfile-warm  the same with the file left in the page cache (the others drop it first, as
//                  it is right after dlproxy's O_DIRECT fill): nginx's own first hit, whose
//                  cache file was just written through the page cache.
// The three alternatives measure the levers a verified hit has left (docs/benchmarks.md).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

#include "cache/chunk_hash.h"

namespace {

constexpr size_t kChunk = 1u << 20;
constexpr size_t kRing = 4;

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "hit_limit: %s: %s\n", what, std::strerror(errno));
    std::exit(1);
}

struct Slot {
    std::byte* data = nullptr;
    size_t length = 0;
    bool full = false;
};

class Ring {
  public:
    Ring() {
        for (auto& s : slots_)
            if (posix_memalign(reinterpret_cast<void**>(&s.data), 4096, kChunk) != 0)
                die("memalign");
    }
    Slot& slot(size_t i) { return slots_[i % kRing]; }
    void wait_for(size_t i, bool full) {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return slots_[i % kRing].full == full; });
    }
    void set(size_t i, bool full) {
        {
            std::lock_guard lock(mutex_);
            slots_[i % kRing].full = full;
        }
        changed_.notify_all();
    }

  private:
    std::array<Slot, kRing> slots_{};
    std::mutex mutex_;
    std::condition_variable changed_;
};

void send_all(int fd, const void* data, size_t length) {
    auto* p = static_cast<const char*>(data);
    while (length > 0) {
        ssize_t n = ::send(fd, p, length, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) die("send");
        p += n;
        length -= static_cast<size_t>(n);
    }
}

void serve_direct(int client, int file, uint64_t length);
void serve_from_page_cache(int client, int file, uint64_t length, bool verify);

}  // namespace

int main(int argc, char** argv) {
    const std::string mode = argc == 4 ? argv[3] : "direct";
    if ((argc != 3 && argc != 4) ||
        (mode != "direct" && mode != "mapped" && mode != "sendfile" && mode != "sendfile-warm")) {
        std::fprintf(stderr,
                     "usage: hit_limit FILE LENGTH [direct|mapped|sendfile|sendfile-warm]\n");
        return 2;
    }
    const uint64_t length = std::strtoull(argv[2], nullptr, 10);
    int file = ::open(argv[1], O_RDONLY | (mode == "direct" ? O_DIRECT : 0));
    if (file < 0) die("open");
    // Right after dlproxy's fill none of the file is in the page cache: keep it that way.
    if (mode == "mapped" || mode == "sendfile")
        (void)::posix_fadvise(file, 0, 0, POSIX_FADV_DONTNEED);

    int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t addr_len = sizeof addr;
    if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) die("bind");
    if (::listen(listener, 1) != 0) die("listen");
    if (::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &addr_len) != 0) die("name");
    std::printf("listening on 127.0.0.1:%u\n", ntohs(addr.sin_port));
    std::fflush(stdout);

    int client = ::accept(listener, nullptr, nullptr);
    if (client < 0) die("accept");
    std::string head;
    char buf[4096];
    while (head.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = ::recv(client, buf, sizeof buf, 0);
        if (n <= 0) die("recv");
        head.append(buf, static_cast<size_t>(n));
    }
    const std::string answer = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(length) +
                               "\r\nConnection: close\r\n\r\n";
    send_all(client, answer.data(), answer.size());

    if (mode != "direct") {
        serve_from_page_cache(client, file, length, mode == "mapped");
    } else {
        serve_direct(client, file, length);
    }
    ::shutdown(client, SHUT_WR);
    while (::recv(client, buf, sizeof buf, 0) > 0) {
    }
    ::close(client);

    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    const double cpu = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                       static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
    std::printf("cpu_seconds %.3f\n", cpu);
    return 0;
}

namespace {

void serve_direct(int client, int file, uint64_t length) {
    Ring ring;
    const size_t chunks = static_cast<size_t>((length + kChunk - 1) / kChunk);
    std::thread reader([&] {
        uint64_t sink = 0;
        for (size_t i = 0; i < chunks; ++i) {
            ring.wait_for(i, false);
            Slot& s = ring.slot(i);
            const uint64_t offset = static_cast<uint64_t>(i) * kChunk;
            s.length = static_cast<size_t>(std::min<uint64_t>(kChunk, length - offset));
            // O_DIRECT reads whole blocks: round the last chunk's read up, use its length.
            const size_t want = (s.length + 4095) & ~size_t{4095};
            ssize_t n = ::pread(file, s.data, want, static_cast<off_t>(offset));
            if (n < static_cast<ssize_t>(s.length)) die("pread");
            sink ^= cache::chunk_hash({reinterpret_cast<const std::byte*>(s.data), s.length});
            ring.set(i, true);
        }
        if (sink == 42) std::fprintf(stderr, "\n");  // keeps the hashes from being optimised out
    });
    for (size_t i = 0; i < chunks; ++i) {
        ring.wait_for(i, true);
        send_all(client, ring.slot(i).data, ring.slot(i).length);
        ring.set(i, false);
    }
    reader.join();
}

void sendfile_all(int client, int file, uint64_t offset, size_t length) {
    auto at = static_cast<off_t>(offset);
    while (length > 0) {
        ssize_t n = ::sendfile(client, file, &at, length);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) die("sendfile");
        length -= static_cast<size_t>(n);
    }
}

void serve_from_page_cache(int client, int file, uint64_t length, bool verify) {
    uint64_t sink = 0;
    for (uint64_t offset = 0; offset < length; offset += kChunk) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(kChunk, length - offset));
        // One descriptor for the whole file: the kernel's readahead builds up; ask for more.
        (void)::posix_fadvise(file, static_cast<off_t>(offset + kChunk), 8 * kChunk,
                              POSIX_FADV_WILLNEED);
        if (!verify) {
            sendfile_all(client, file, offset, n);
            continue;
        }
        void* map = ::mmap(nullptr, n, PROT_READ, MAP_SHARED, file, static_cast<off_t>(offset));
        if (map == MAP_FAILED) die("mmap");
        if (::mlock(map, n) != 0) die("mlock");
        sink ^= cache::chunk_hash({static_cast<const std::byte*>(map), n});
        // sendfile takes references to the locked pages, the very bytes just checked.
        sendfile_all(client, file, offset, n);
        ::munlock(map, n);
        ::munmap(map, n);
    }
    if (sink == 42) std::fprintf(stderr, "\n");  // keeps the hashes from being optimised out
}

}  // namespace
