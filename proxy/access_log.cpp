#include "proxy/access_log.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace proxy {

AccessLog::AccessLog(const std::string& target) {
    if (target == "off") return;
    if (target == "-")
        logger_ = spdlog::stdout_logger_st("access");
    else
        logger_ = spdlog::basic_logger_st("access", target);
    logger_->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %v");
    logger_->flush_on(spdlog::level::info);
}

void AccessLog::write(const AccessRecord& r) {
    if (!logger_) return;
    // The URL is quoted; quotes and control bytes cannot appear in it (the target parser rejects
    // them), so the line stays parseable.
    logger_->info(
        "dur_ms={:.1f} client={} result={} status={} bytes={} method={} url=\"{}\" upstream={}",
        r.duration_ms, r.client, r.result, r.status, r.bytes, r.method.empty() ? "-" : r.method,
        r.url.empty() ? "-" : r.url, r.upstream);
}

}  // namespace proxy
