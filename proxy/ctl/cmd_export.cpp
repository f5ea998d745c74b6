// dlproxyctl export: copy a cached body to a file, verifying every chunk on the way out.
//
// A partial object is refused unless --partial; then the longest present prefix is written, so
// the file can be completed with `curl -C -` or `wget -c` (a file with zero-filled holes would
// look complete and be wrong).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "proxy/ctl/commands.h"

namespace ctl {

namespace {

struct ExportOptions {
    std::string target;
    std::string file;
    bool partial = false;
};

class OutputFile {
  public:
    explicit OutputFile(const std::string& path) : path_(path) {
        fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd_ < 0) {
            throw CtlError(kProblem, "cannot create " + path + ": " + std::strerror(errno));
        }
    }
    ~OutputFile() {
        if (fd_ >= 0) ::close(fd_);
        if (!kept_) ::unlink(path_.c_str());
    }
    void write(const std::byte* data, size_t n) {
        while (n > 0) {
            ssize_t w = ::write(fd_, data, n);
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) throw CtlError(kProblem, "writing " + path_ + ": " + std::strerror(errno));
            data += w;
            n -= static_cast<size_t>(w);
        }
    }
    void keep() {
        if (::close(fd_) != 0) {
            fd_ = -1;
            throw CtlError(kProblem, "closing " + path_ + ": " + std::strerror(errno));
        }
        fd_ = -1;
        kept_ = true;
    }

  private:
    std::string path_;
    int fd_ = -1;
    bool kept_ = false;
};

int run_export(const Context& ctx, const ExportOptions& opt) {
    auto store = ctx.open_store(/*read_only=*/true);
    cache::ObjectInfo o = require_object(*store, opt.target);
    auto map = store->present_chunks(o);
    if (!map) {
        throw CtlError(kProblem,
                       "cannot read the chunks of " + o.key + ": " + cache::to_string(map.error()));
    }
    uint32_t count = map->first_missing().value_or(map->size());
    if (count < map->size() && !opt.partial) {
        throw CtlError(kProblem, "not complete: " + o.key + " has " + human_size(o.bytes_present) +
                                     " of " + human_size(o.complete_length) +
                                     " cached (use --partial for the first " +
                                     std::to_string(o.chunk_begin(count)) + " bytes)");
    }
    OutputFile out(opt.file);
    std::vector<std::byte> buf(o.chunk_size);
    uint64_t written = 0;
    for (uint32_t i = 0; i < count; ++i) {
        auto read = store->read_chunk(o, i, buf);
        if (!read) {
            throw CtlError(kProblem, "chunk " + std::to_string(i) + " of " + o.key + " at byte " +
                                         std::to_string(o.chunk_begin(i)) + ": " +
                                         cache::to_string(read.error()) + "; nothing exported");
        }
        out.write(buf.data(), *read);
        written += *read;
    }
    out.keep();
    bool whole = written == o.complete_length;
    if (ctx.json) {
        print_json({{"url", o.key},
                    {"file", opt.file},
                    {"bytes", written},
                    {"size", o.complete_length},
                    {"complete", whole}});
    } else {
        std::printf("exported %s (%llu bytes%s) to %s\n", o.key.c_str(),
                    static_cast<unsigned long long>(written),
                    whole ? "" : (" of " + std::to_string(o.complete_length)).c_str(),
                    opt.file.c_str());
    }
    return kOk;
}

}  // namespace

void add_export(CLI::App& app, Context& ctx, Runner& chosen) {
    auto opt = std::make_shared<ExportOptions>();
    auto* cmd = app.add_subcommand(
        "export", "Write a cached body to a file, verifying each chunk; refuses partial objects");
    cmd->add_option("target", opt->target, "the object's URL or id")->required();
    cmd->add_option("file", opt->file, "where to write the body (replaced)")->required();
    cmd->add_flag("--partial", opt->partial,
                  "export the present prefix of a partial object (resumable with curl -C -)");
    cmd->callback([&ctx, &chosen, opt] { chosen = [&ctx, opt] { return run_export(ctx, *opt); }; });
}

}  // namespace ctl
