// dlproxyctl import: seed the cache with a file already on disk, as if dlproxy had downloaded it.
//
// The origin is asked with a HEAD (directly, or through --proxy) for what a GET would have
// stored: status, headers, validators, length. The import is refused unless that response is
// one dlproxy would store (policy::decide_storable) and its Content-Length equals the file's
// size; then every chunk is written, and the object marked complete.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "policy/cacheability.h"
#include "proxy/admin/cache_admin.h"
#include "proxy/ctl/commands.h"
#include "proxy/ctl/http_client.h"
#include "proxy/loop/clock.h"

namespace ctl {

namespace {

struct ImportOptions {
    std::string url;
    std::string file;
    std::string proxy;
};

constexpr size_t kChunksPerWrite = 16;  // one fdatasync and one commit per 16 chunks

struct InputFile {
    explicit InputFile(const std::string& path) : path(path) {
        fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        struct stat st {};
        if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            std::string why = fd < 0 ? std::strerror(errno) : "not a regular file";
            throw CtlError(kProblem, "cannot read " + path + ": " + why);
        }
        size = static_cast<uint64_t>(st.st_size);
    }
    ~InputFile() { ::close(fd); }
    void read_at(uint64_t offset, std::byte* out, size_t n) const {
        while (n > 0) {
            ssize_t r = ::pread(fd, out, n, static_cast<off_t>(offset));
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0)
                throw CtlError(kProblem, "reading " + path + ": " +
                                             (r < 0 ? std::strerror(errno) : "file shrank"));
            out += r;
            offset += static_cast<uint64_t>(r);
            n -= static_cast<size_t>(r);
        }
    }
    std::string path;
    int fd = -1;
    uint64_t size = 0;
};

// The origin's answer to HEAD, checked: what begin_object() needs.
cache::ObjectHead head_from_origin(const ImportOptions& opt, const std::string& key,
                                   uint64_t file_size) {
    HttpRequest head;
    head.method = "HEAD";
    head.url = opt.url;
    head.proxy = opt.proxy;
    head.connect_timeout_ms = 10000;
    head.timeout_ms = 60000;
    int64_t request_time = proxy::wall_seconds();
    HttpReply reply = perform(head);
    if (!reply.answered()) {
        throw CtlError(opt.proxy.empty() ? kProblem : kUnavailable,
                       "HEAD " + opt.url + ": " + reply.error);
    }
    if (reply.status != 200) {
        auto location = policy::find_header(reply.headers, "Location");
        throw CtlError(kProblem, "HEAD " + opt.url + " answered " + std::to_string(reply.status) +
                                     (location ? " (Location: " + std::string(*location) +
                                                     "; import that URL instead)"
                                               : "") +
                                     ": refusing to import");
    }
    auto decision = policy::decide_storable("GET", {}, 200, reply.headers);
    if (!decision.store) {
        throw CtlError(kProblem, "the origin's response is not storable (" +
                                     std::string(policy::to_string(decision.reason)) +
                                     "): refusing to import");
    }
    auto length = policy::content_length(reply.headers);
    if (!length || *length != file_size) {
        throw CtlError(kProblem, "size differs: the origin says " +
                                     (length ? std::to_string(*length) : "nothing") +
                                     " bytes, the file has " + std::to_string(file_size) +
                                     ": refusing to import");
    }
    cache::ObjectHead h;
    h.key = key;
    h.status = 200;
    h.headers = policy::headers_to_store(reply.headers);
    if (auto etag = policy::find_header(reply.headers, "ETag");
        etag && policy::is_strong_etag(*etag))
        h.validator.etag = std::string(*etag);
    if (auto lm = policy::find_header(reply.headers, "Last-Modified"))
        h.validator.last_modified = std::string(*lm);
    h.complete_length = file_size;
    h.request_time = request_time;
    h.response_time = proxy::wall_seconds();
    return h;
}

void check(const cache::Result<void>& r, const std::string& what) {
    if (!r) throw CtlError(kProblem, what + ": " + cache::to_string(r.error()));
}

int run_import(const Context& ctx, const ImportOptions& opt) {
    auto key = proxy::cache_key_of(opt.url);
    if (!key) throw CtlError(kUsage, "import: '" + opt.url + "' is not an http(s) URL");
    InputFile in(opt.file);
    cache::ObjectHead head = head_from_origin(opt, *key, in.size);

    auto store = ctx.open_store(/*read_only=*/false);
    auto object = store->begin_object(head, proxy::wall_seconds());
    if (!object) {
        throw CtlError(kProblem, "cannot create the object: " + cache::to_string(object.error()));
    }
    const cache::ObjectInfo& o = *object;
    std::vector<std::byte> buf(static_cast<size_t>(o.chunk_size) * kChunksPerWrite);
    for (uint64_t first = 0; first < o.chunk_count(); first += kChunksPerWrite) {
        std::vector<cache::ChunkWrite> writes;
        size_t used = 0;
        for (uint64_t i = first; i < std::min<uint64_t>(first + kChunksPerWrite, o.chunk_count());
             ++i) {
            size_t n = o.chunk_length(i);
            in.read_at(o.chunk_begin(i), buf.data() + used, n);
            writes.push_back({static_cast<uint32_t>(i), std::span(buf.data() + used, n)});
            used += n;
        }
        check(store->write_chunks(o, writes), "writing chunks of " + o.key);
    }
    auto done = store->mark_complete(o);
    if (!done) {
        throw CtlError(kProblem,
                       "cannot mark " + o.key + " complete: " + cache::to_string(done.error()));
    }
    if (ctx.json) {
        print_json({{"url", o.key},
                    {"id", o.id.hex()},
                    {"size", o.complete_length},
                    {"chunks", o.chunk_count()},
                    {"etag", o.validator.etag},
                    {"last_modified", o.validator.last_modified}});
    } else {
        std::printf("imported %s: %s in %llu chunk(s), id %s\n", o.key.c_str(),
                    human_size(o.complete_length).c_str(),
                    static_cast<unsigned long long>(o.chunk_count()), o.id.hex().c_str());
    }
    return kOk;
}

}  // namespace

void add_import(CLI::App& app, Context& ctx, Runner& chosen) {
    auto opt = std::make_shared<ImportOptions>();
    auto* cmd = app.add_subcommand(
        "import",
        "Seed the cache with a file on disk: HEAD the URL for its headers, refuse when "
        "the size differs, store the bytes as a complete object");
    cmd->add_option("url", opt->url, "the URL the file was downloaded from")->required();
    cmd->add_option("file", opt->file, "the downloaded file")->required();
    cmd->add_option("--proxy", opt->proxy,
                    "send the HEAD through this proxy, e.g. http://127.0.0.1:3128 (default: "
                    "directly to the origin)");
    cmd->callback([&ctx, &chosen, opt] { chosen = [&ctx, opt] { return run_import(ctx, *opt); }; });
}

}  // namespace ctl
