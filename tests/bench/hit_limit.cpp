// hit_limit: what a verified hit could cost at best on this machine (issue 18, docs/benchmarks.md
// "The copy-and-verify limit"). It serves one stored body the way dlproxy's hit must, and nothing
// else: read it from the device with O_DIRECT in 1 MiB chunks, hash each chunk with XXH3 (the
// check every read of a stored chunk makes), and copy it into the socket. A reader thread reads
// and hashes ahead into a ring of four buffers while the main thread sends, so the two overlap
// as dlproxy's worker reads overlap its sends. No event loop, no HTTP parsing beyond the end of
// the request head, no cache index: the floor under dlproxy's hit, to measure it against.
//
//   hit_limit FILE LENGTH
// Prints `listening on 127.0.0.1:PORT` once it accepts, answers the first connection's request
// with `200` and LENGTH bytes of FILE from offset 0, then prints `cpu_seconds S` (user + system
// of the whole process) and exits. Binds 127.0.0.1 only.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
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

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: hit_limit FILE LENGTH\n");
        return 2;
    }
    const uint64_t length = std::strtoull(argv[2], nullptr, 10);
    int file = ::open(argv[1], O_RDONLY | O_DIRECT);
    if (file < 0) die("open");

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
