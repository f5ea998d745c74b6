#include "proxy/admin/access_log.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include <cmath>

#include "proxy/admin/status_events.h"
#include "proxy/loop/clock.h"

namespace proxy {

namespace {

// "127.0.0.1:5000" → "127.0.0.1", "[::1]:5000" → "::1"; anything else unchanged.
std::string_view client_address(std::string_view client) {
    if (client.starts_with('[')) {
        auto close = client.find(']');
        if (close != std::string_view::npos) return client.substr(1, close - 1);
    }
    auto colon = client.rfind(':');
    if (colon != std::string_view::npos && client.find(':') == colon)
        return client.substr(0, colon);
    return client;
}

// Squid's hierarchy field: where the answer came from.
std::string hierarchy(std::string_view result, const std::string& upstream) {
    bool from_origin = result == "MISS" || result == "PASS" || result == "PARTIAL_HIT" ||
                       result == "REVALIDATED" || result == "TUNNEL" || result == "ABORTED";
    if (!from_origin || upstream.empty() || upstream == "-") return "HIER_NONE/-";
    return "HIER_DIRECT/" + std::string(client_address(upstream));
}

}  // namespace

std::string_view squid_code(std::string_view result, bool recovered) {
    if (result == "HIT") return "TCP_HIT";
    if (result == "MISS") return recovered ? "TCP_MISS_RESUMED" : "TCP_MISS";
    if (result == "PARTIAL_HIT") return recovered ? "TCP_PARTIAL_HIT_RESUMED" : "TCP_PARTIAL_HIT";
    if (result == "REVALIDATED") return "TCP_REFRESH_UNMODIFIED";
    if (result == "TUNNEL") return "TCP_TUNNEL";
    if (result == "DENIED") return "TCP_DENIED";
    if (result == "ABORTED") return "TCP_MISS_ABORTED";
    if (result == "PASS" || result == "ERROR") return "TCP_MISS";
    return "NONE_NONE";  // INTERCEPT, or a word this table does not know yet
}

std::string format_squid_line(const AccessRecord& r, bool recovered, double now) {
    // %ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt (Squid's "squid" logformat).
    auto ms = static_cast<long long>(std::floor(now * 1000));
    return fmt::format("{}.{:03d} {:6d} {} {}/{:03d} {} {} {} - {} -", ms / 1000, ms % 1000,
                       std::llround(r.duration_ms), client_address(r.client),
                       squid_code(r.result, recovered), r.status, r.bytes,
                       r.method.empty() ? "-" : r.method, r.url.empty() ? "-" : r.url,
                       hierarchy(r.result, r.upstream));
}

std::string format_json_line(const AccessRecord& r, bool recovered, double now) {
    nlohmann::json line = {{"time", std::round(now * 1000) / 1000},
                           {"duration_ms", std::round(r.duration_ms * 10) / 10},
                           {"client", r.client},
                           {"result", r.result},
                           {"squid_code", squid_code(r.result, recovered)},
                           {"status", r.status},
                           {"bytes", r.bytes},
                           {"method", r.method},
                           {"url", r.url},
                           {"upstream", r.upstream},
                           {"recovered", recovered}};
    return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

AccessLog::AccessLog(const std::string& target, AccessLogFormat format)
    : target_(target), format_(format) {
    if (target == "off") return;
    if (target == "-")
        logger_ = spdlog::stdout_logger_st("access");
    else
        logger_ = spdlog::basic_logger_st("access", target);
    // The squid and json lines carry their own time.
    logger_->set_pattern(format_ == AccessLogFormat::Native ? "%Y-%m-%dT%H:%M:%S.%e%z %v" : "%v");
    logger_->flush_on(spdlog::level::info);
}

std::string AccessLog::reopen() {
    if (!logger_ || target_ == "-") return {};
    std::shared_ptr<spdlog::logger> fresh;
    try {  // spdlog reports a file it cannot open with an exception: caught here, on the loop
        fresh = std::make_shared<spdlog::logger>(
            "access", std::make_shared<spdlog::sinks::basic_file_sink_st>(target_));
    } catch (const std::exception& e) {
        return e.what();
    }
    fresh->set_pattern(format_ == AccessLogFormat::Native ? "%Y-%m-%dT%H:%M:%S.%e%z %v" : "%v");
    fresh->flush_on(spdlog::level::info);
    logger_->flush();
    spdlog::drop("access");  // the registry's reference would keep the old file open
    logger_ = std::move(fresh);
    return {};
}

void AccessLog::write(const AccessRecord& r) {
    FinishedDownload download;
    download.url = r.url;
    download.method = r.method;
    download.result = r.result;
    download.status = r.status;
    download.bytes = r.bytes;
    download.duration_ms = r.duration_ms;
    bool recovered = status_events().finished(std::move(download));
    if (!logger_) return;
    switch (format_) {
        case AccessLogFormat::Squid:
            logger_->info("{}", format_squid_line(r, recovered, wall_seconds_f()));
            return;
        case AccessLogFormat::Json:
            logger_->info("{}", format_json_line(r, recovered, wall_seconds_f()));
            return;
        case AccessLogFormat::Native:
            break;
    }
    // The URL is quoted; quotes and control bytes cannot appear in it (the target parser rejects
    // them), so the line stays parseable.
    logger_->info(
        "dur_ms={:.1f} client={} result={} status={} bytes={} method={} url=\"{}\" upstream={}",
        r.duration_ms, r.client, r.result, r.status, r.bytes, r.method.empty() ? "-" : r.method,
        r.url.empty() ? "-" : r.url, r.upstream);
}

}  // namespace proxy
