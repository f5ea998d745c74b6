// One access-log line per transaction, written when the transaction ends, in one of three
// formats (--access-log-format; docs/access-log.md has examples of each):
//
// native (default): after an ISO 8601 timestamp, space-separated key=value pairs, values without
//   spaces except the quoted URL: dur_ms client result status bytes method "url" upstream.
//   `result` is an outcome word: HIT, MISS, PARTIAL_HIT, REVALIDATED, PASS (forwarded, not
//   cached), TUNNEL, INTERCEPT (a CONNECT answered as a TLS server; its requests get lines of
//   their own), ERROR (answered by dlproxy), ABORTED (client or origin went away mid-body),
//   DENIED.
// squid: Squid's native access.log format, which log analysers read (calamaris, SARG):
//   `time.ms elapsed_ms client code/status bytes method URL - hierarchy/peer -`, with the
//   result as a Squid code (squid_code() below). `bytes` counts body bytes only (Squid counts
//   the head too); the user and content-type fields are always "-".
// json: one JSON object per line: {"time", "duration_ms", "client", "result", "squid_code",
//   "status", "bytes", "method", "url", "upstream", "recovered"}.
//
// Every written record is also handed to the status page's ring of recent downloads
// (status_events().finished), whose `recovered` flag — the fill resumed after a cut during this
// transaction — selects the _RESUMED Squid codes.
//
// Thread: the loop thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace spdlog {
class logger;
}

namespace proxy {

enum class AccessLogFormat : uint8_t { Native, Squid, Json };
// "native", "squid", "json"; nullopt for anything else. Inline: config.cpp validates with it,
// and the config fuzzer links config.cpp without the rest of the proxy.
inline std::optional<AccessLogFormat> access_log_format_from_string(std::string_view name) {
    if (name == "native") return AccessLogFormat::Native;
    if (name == "squid") return AccessLogFormat::Squid;
    if (name == "json") return AccessLogFormat::Json;
    return std::nullopt;
}

struct AccessRecord {
    double duration_ms = 0;
    std::string client;  // ip:port
    std::string_view result = "-";
    int status = 0;
    uint64_t bytes = 0;  // body bytes sent to the client (tunnels: both directions)
    std::string method;
    std::string url;
    std::string upstream = "-";
};

// The Squid result code for an access-log result word: HIT → TCP_HIT, MISS and PASS → TCP_MISS,
// REVALIDATED → TCP_REFRESH_UNMODIFIED, TUNNEL → TCP_TUNNEL, DENIED → TCP_DENIED, ABORTED →
// TCP_MISS_ABORTED, ERROR → TCP_MISS (with dlproxy's status), INTERCEPT → NONE_NONE; dlproxy's
// own: PARTIAL_HIT → TCP_PARTIAL_HIT, and with `recovered` MISS → TCP_MISS_RESUMED,
// PARTIAL_HIT → TCP_PARTIAL_HIT_RESUMED.
std::string_view squid_code(std::string_view result, bool recovered);

// One line (without the newline) in the squid or json format; `now`: seconds since the epoch
// when the transaction ended.
std::string format_squid_line(const AccessRecord& record, bool recovered, double now);
std::string format_json_line(const AccessRecord& record, bool recovered, double now);

class AccessLog {
  public:
    // `target`: "-" standard output, "off" nothing, else a file path (appended).
    explicit AccessLog(const std::string& target, AccessLogFormat format = AccessLogFormat::Native);
    void write(const AccessRecord& record);
    // Opens the file again by its path (after logrotate renamed it: SIGHUP, SIGUSR1). Standard
    // output and "off" have nothing to reopen. On failure the old file stays in use and the
    // reason is returned (empty: reopened, or nothing to do).
    std::string reopen();

  private:
    std::string target_;
    std::shared_ptr<spdlog::logger> logger_;
    AccessLogFormat format_;
};

}  // namespace proxy
