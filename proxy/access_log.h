// One access-log line per transaction, written when the transaction ends.
//
// Format (space-separated key=value after the spdlog timestamp, values without spaces except the
// quoted URL): dur_ms client result status bytes method "url" upstream. `result` is an outcome
// word: PASS (forwarded, not cached), TUNNEL, INTERCEPT (a CONNECT answered as a TLS server; its
// requests get lines of their own), ERROR (answered by dlproxy), ABORTED (client or
// origin went away mid-body), DENIED.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace spdlog {
class logger;
}

namespace proxy {

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

class AccessLog {
  public:
    // `target`: "-" standard output, "off" nothing, else a file path (appended).
    explicit AccessLog(const std::string& target);
    void write(const AccessRecord& record);

  private:
    std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace proxy
