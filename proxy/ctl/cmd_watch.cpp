// dlproxyctl watch: the status page in a terminal. Reads the running dlproxy's GET /events (a
// Server-Sent Events stream, proxy/admin/event_stream.h) and redraws a WatchView on each update,
// like `top`; with --json it prints each status document as one line of JSON instead, for
// scripts. --count N stops after N documents (the first is the snapshot).
//
// On a terminal the screen is cleared before each redraw; otherwise each redraw is printed
// after a blank line, so the output can be piped. Ctrl-C ends it.
#include <curl/curl.h>

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "proxy/ctl/commands.h"
#include "proxy/ctl/watch_view.h"

namespace ctl {

namespace {

using nlohmann::json;

struct WatchOptions {
    uint64_t count = 0;  // 0 = until interrupted
    bool json = false;
};

// Parses SSE frames out of the byte stream and hands each status document on.
struct StreamState {
    const WatchOptions* options = nullptr;
    WatchView view;
    std::string buffer;
    uint64_t documents = 0;
    bool done = false;
    bool tty = false;
    std::string bad;  // why the stream was abandoned, if it was

    void on_frame(std::string_view frame) {
        std::string data;
        size_t begin = 0;
        while (begin < frame.size()) {
            size_t end = frame.find('\n', begin);
            if (end == std::string_view::npos) end = frame.size();
            std::string_view line = frame.substr(begin, end - begin);
            if (line.starts_with("data: ")) data.append(line.substr(6)).append("\n");
            begin = end + 1;
        }
        if (data.empty()) return;  // `retry:` or a comment
        json doc = json::parse(data, nullptr, /*allow_exceptions=*/false);
        if (doc.is_discarded() || !doc.is_object()) {
            bad = "the daemon sent a status document that is not JSON";
            done = true;
            return;
        }
        ++documents;
        if (options->json) {
            std::printf("%s\n", doc.dump(-1, ' ', false, json::error_handler_t::replace).c_str());
        } else {
            view.apply(doc);
            winsize ws{};
            int width = tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0
                            ? ws.ws_col
                            : 100;
            std::string screen = view.render(width);
            std::printf("%s%s", tty ? "\x1b[H\x1b[2J" : (documents > 1 ? "\n" : ""),
                        screen.c_str());
        }
        std::fflush(stdout);
        if (options->count != 0 && documents >= options->count) done = true;
    }

    static size_t on_body(char* data, size_t size, size_t n, void* user) noexcept {
        auto* s = static_cast<StreamState*>(user);
        s->buffer.append(data, size * n);
        size_t end;
        while (!s->done && (end = s->buffer.find("\n\n")) != std::string::npos) {
            std::string frame = s->buffer.substr(0, end);
            s->buffer.erase(0, end + 2);
            s->on_frame(frame);
        }
        if (s->buffer.size() > (16u << 20)) {  // a frame that never ends: not our daemon
            s->bad = "the event stream sent a frame larger than 16 MiB";
            s->done = true;
        }
        return s->done ? 0 : size * n;  // 0 ends the transfer
    }
};

int run_watch(const Context& ctx, const WatchOptions& options) {
    StreamState state;
    state.options = &options;
    state.tty = !options.json && isatty(STDOUT_FILENO);
    std::string url = ctx.effective_admin_url() + "/events";
    std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
    if (!curl) throw CtlError(kUnavailable, "libcurl failed to initialise");
    CURL* c = curl.get();
    char error[CURL_ERROR_SIZE] = {};
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROXY, "");  // never through a *_proxy variable
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
    // No overall timeout: the stream is meant to last. A daemon that stops sending (updates
    // come every second) for 10 s is gone.
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 10L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &StreamState::on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &state);
    std::unique_ptr<curl_slist, void (*)(curl_slist*)> fields(nullptr, curl_slist_free_all);
    if (!ctx.admin_token.empty()) {
        std::string auth = "Authorization: Bearer " + ctx.admin_token;
        fields.reset(curl_slist_append(nullptr, auth.c_str()));
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, fields.get());
    }
    CURLcode code = curl_easy_perform(c);
    if (!state.bad.empty()) throw CtlError(kProblem, state.bad);
    if (state.done) return kOk;  // --count reached (the write callback ended the transfer)
    if (code == CURLE_HTTP_RETURNED_ERROR) {
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        throw CtlError(status == 401 ? kUsage : kUnavailable,
                       url + " answered " + std::to_string(status) +
                           (status == 401 ? " (give --admin-token or DLPROXY_ADMIN_TOKEN)" : ""));
    }
    if (code != CURLE_OK)
        throw CtlError(kUnavailable, "cannot watch " + url + ": " +
                                         (error[0] != '\0' ? error : curl_easy_strerror(code)));
    throw CtlError(kUnavailable, "dlproxy closed the event stream (did it stop?)");
}

}  // namespace

void add_watch(CLI::App& app, Context& ctx, Runner& chosen) {
    auto options = std::make_shared<WatchOptions>();
    auto* cmd = app.add_subcommand(
        "watch",
        "Live view of a running dlproxy: downloads in flight with progress bars, recoveries, "
        "recent downloads (like top; --json: one status document per line)");
    cmd->add_option("--count", options->count, "stop after N updates (default: run until Ctrl-C)");
    cmd->callback([&ctx, &chosen, options] {
        chosen = [&ctx, options] {
            options->json = ctx.json;  // a global flag: known once parsing is over
            return run_watch(ctx, *options);
        };
    });
}

}  // namespace ctl
