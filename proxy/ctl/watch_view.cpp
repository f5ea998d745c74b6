#include "proxy/ctl/watch_view.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace ctl {

namespace {

using nlohmann::json;

std::string fmt(const char* format, double a) {
    char buf[64];
    std::snprintf(buf, sizeof buf, format, a);
    return buf;
}

std::string duration_words(double s) {
    if (!std::isfinite(s) || s < 0) return "?";
    auto n = static_cast<uint64_t>(std::llround(s));
    if (n < 60) return std::to_string(n) + " s";
    if (n < 3600) return std::to_string(n / 60) + " min " + std::to_string(n % 60) + " s";
    return std::to_string(n / 3600) + " h " + std::to_string(n % 3600 / 60) + " min";
}

// The last path segment of a URL (its file name), else the URL.
std::string file_name(const std::string& url) {
    std::string path = url.substr(0, url.find('?'));
    while (!path.empty() && path.back() == '/')
        path.pop_back();
    auto slash = path.rfind('/');
    return slash == std::string::npos || slash + 1 >= path.size() ? url : path.substr(slash + 1);
}

std::string fit(std::string text, size_t width) {
    if (text.size() > width) text = text.substr(0, width > 1 ? width - 1 : 0) + "~";
    return text;
}

uint64_t u64(const json& j, const char* key) {
    return j.contains(key) && j[key].is_number() ? j[key].get<uint64_t>() : 0;
}

}  // namespace

std::string detail::decimal_size(uint64_t bytes) {
    static const char* kUnits[] = {"B", "KB", "MB", "GB", "TB"};
    double n = static_cast<double>(bytes);
    int i = 0;
    while (n >= 1000 && i < 4) {
        n /= 1000;
        ++i;
    }
    if (i == 0) return std::to_string(bytes) + " B";
    return fmt(n < 10 ? "%.2f" : "%.1f", n) + " " + kUnits[i];
}

std::string detail::progress_bar(double fraction, int width) {
    width = std::max(width, 2);
    int inner = width - 2;
    int filled = static_cast<int>(std::clamp(fraction, 0.0, 1.0) * inner);
    return "[" + std::string(filled, '#') + std::string(inner - filled, '.') + "]";
}

std::string detail::state_words(const json& fill, uint32_t retry_number) {
    std::string state = fill.value("state", "");
    if (state == "starting") return "waiting for the origin";
    if (state == "revalidating") return "checking with the origin";
    if (state == "transferring") return "downloading";
    if (state == "waiting_retry") {
        std::string in = "?";
        if (fill.contains("retry_in_ms") && fill["retry_in_ms"].is_number())
            in = std::to_string(std::max<uint64_t>(1, (u64(fill, "retry_in_ms") + 999) / 1000));
        return "retry " + std::to_string(retry_number) + " in " + in + " s";
    }
    if (state == "waiting_for_disk") return "writing to disk";
    if (state == "waiting_for_clients") return "paused: ahead of its clients";
    if (state == "writing") return "storing";
    if (state == "passed_through") return "passed through (not cached)";
    std::replace(state.begin(), state.end(), '_', ' ');
    return state;
}

void WatchView::apply(const json& doc) {
    if (!last_.is_null() && doc.contains("time") && last_.contains("time")) {
        double dt = doc["time"].get<double>() - last_["time"].get<double>();
        for (const auto& f : doc["fills"]) {
            for (const auto& p : last_["fills"]) {
                if (p["url"] != f["url"] || dt <= 0) continue;
                double r = std::max(0.0, (static_cast<double>(u64(f, "bytes_done")) -
                                          static_cast<double>(u64(p, "bytes_done"))) /
                                             dt);
                auto it = rates_.find(f["url"]);
                rates_[f["url"]] = it == rates_.end() ? r : 0.6 * it->second + 0.4 * r;
            }
        }
    }
    last_ = doc;
    for (const auto& e : doc.value("events", json::array()))
        events_[u64(e, "seq")] = e;
    for (const auto& d : doc.value("downloads", json::array()))
        downloads_[u64(d, "seq")] = d;
    while (events_.size() > kMaxEvents)
        events_.erase(events_.begin());
    while (downloads_.size() > kMaxDownloads)
        downloads_.erase(downloads_.begin());
}

std::string WatchView::render(int width) const {
    using detail::decimal_size;
    width = std::max(width, 40);
    auto w = static_cast<size_t>(width);
    std::string out;
    if (last_.is_null()) return "waiting for dlproxy...\n";
    const json& t = last_["totals"];
    uint64_t hits = u64(t, "hits") + u64(t, "partial_hits") + u64(t, "revalidated");
    uint64_t all = hits + u64(t, "misses");
    std::string line = "dlproxy " + last_.value("version", "?") + "  up " +
                       duration_words(last_.value("uptime_seconds", 0.0));
    if (last_["cache"].is_object()) {
        uint64_t used = u64(last_["cache"], "bytes_present"),
                 budget = u64(last_["cache"], "budget");
        line += "  cache " + decimal_size(used) + " of " + decimal_size(budget);
    }
    line += "  hit ratio " + (all ? fmt("%.0f%%", 100.0 * hits / all) : std::string("-"));
    line += "  saved " + decimal_size(u64(t, "bytes_from_cache"));
    line += "  resumes " + std::to_string(u64(t, "resumes"));
    out += fit(line, w) + "\n\n";

    out += "DOWNLOADING NOW\n";
    if (last_["fills"].empty()) out += "  nothing\n";
    for (const auto& f : last_["fills"]) {
        std::string url = f.value("url", "");
        uint32_t retry = 0;
        std::vector<std::string> timeline;
        for (const auto& [seq, e] : events_) {
            if (e["url"] != url) continue;
            std::string kind = e.value("kind", "");
            if (kind == "cut") {
                retry = e.value("attempt", 0u);
                timeline.push_back("cut at " + decimal_size(u64(e, "offset")) + " (" +
                                   e.value("detail", "") + ")");
            } else if (kind == "resumed") {
                std::string text = "resumed at " + decimal_size(u64(e, "offset")) + " after " +
                                   fmt("%.1f", e.value("outage_seconds", 0.0)) + " s, " +
                                   decimal_size(u64(e, "bytes_lost")) + " lost";
                if (!timeline.empty() && timeline.back().starts_with("cut"))
                    timeline.back() += " -> " + text;
                else
                    timeline.push_back(text);
            } else if (kind == "gave_up") {
                timeline.push_back("gave up: " + e.value("detail", ""));
            }
        }
        bool known = f.contains("total") && f["total"].is_number() && u64(f, "total") > 0;
        double done = static_cast<double>(u64(f, "bytes_done"));
        double total = known ? static_cast<double>(u64(f, "total")) : 0;
        auto rate_it = rates_.find(url);
        double rate = rate_it != rates_.end() ? rate_it->second : f.value("rate_bytes_per_s", 0.0);
        // Line 1: the file and its state; line 2: the bar and the numbers; then the timeline.
        std::string state = detail::state_words(f, retry);
        out += "  " + fit(file_name(url), w > state.size() + 6 ? w - state.size() - 6 : 10) +
               "  -- " + state + "\n";
        std::string nums = decimal_size(u64(f, "bytes_done")) + " of " +
                           (known ? decimal_size(u64(f, "total")) : std::string("?")) + "  " +
                           decimal_size(static_cast<uint64_t>(rate)) + "/s";
        if (known && rate > 0) nums += "  ETA " + duration_words((total - done) / rate);
        nums += "  " + std::to_string(u64(f, "clients")) + " client(s)";
        int bar = std::clamp(width / 4, 10, 30);
        std::string line = "  " + detail::progress_bar(known ? done / total : 0, bar) +
                           (known ? fmt(" %5.1f%%", 100 * done / total) : std::string("    ?  ")) +
                           "  " + nums;
        out += fit(line, w) + "\n";
        size_t first = timeline.size() > 4 ? timeline.size() - 4 : 0;
        for (size_t i = first; i < timeline.size(); ++i)
            out += "    " + fit(timeline[i], w - 4) + "\n";
    }

    out += "\nRECENT\n";
    size_t shown = 0;
    for (auto it = downloads_.rbegin(); it != downloads_.rend() && shown < 8; ++it) {
        const json& d = it->second;
        if (d.value("method", "") == "CONNECT") continue;
        ++shown;
        std::string result = d.value("result", "");
        if (d.value("recovered", false)) result += " (resumed)";
        result = fit(result, 23);
        out += "  " + result + std::string(24 - result.size(), ' ');
        out += fit(decimal_size(u64(d, "bytes")) + "  " + file_name(d.value("url", "")), w - 28) +
               "\n";
    }
    if (shown == 0) out += "  none yet\n";

    std::vector<std::string> problems;
    for (const auto& [seq, e] : events_)
        if (e.value("kind", "") == "gave_up")
            problems.push_back(file_name(e.value("url", "")) + ": " + e.value("detail", ""));
    for (const auto& [seq, d] : downloads_) {
        std::string r = d.value("result", "");
        if (r == "ERROR" || r == "ABORTED" || r == "DENIED")
            problems.push_back(file_name(d.value("url", "")) + ": " + r + " (status " +
                               std::to_string(d.value("status", 0)) + ")");
    }
    if (!problems.empty()) {
        out += "\nPROBLEMS\n";
        size_t first = problems.size() > 5 ? problems.size() - 5 : 0;
        for (size_t i = first; i < problems.size(); ++i)
            out += "  " + fit(problems[i], w - 2) + "\n";
    }
    return out;
}

}  // namespace ctl
