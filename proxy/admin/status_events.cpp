#include "proxy/admin/status_events.h"
#include "proxy/loop/clock.h"

#include <algorithm>

namespace proxy {

namespace {

std::string bounded(std::string_view text) {
    return std::string(text.substr(0, StatusEvents::kMaxText));
}

}  // namespace

std::string_view to_string(RecoveryKind kind) {
    switch (kind) {
        case RecoveryKind::Cut:
            return "cut";
        case RecoveryKind::Resumed:
            return "resumed";
        case RecoveryKind::GaveUp:
            return "gave_up";
        case RecoveryKind::Stored:
            return "stored";
        case RecoveryKind::Checked:
            return "checked";
    }
    return "unknown";
}

StatusEvents::StatusEvents(size_t event_capacity, size_t download_capacity)
    : event_capacity_(std::max<size_t>(event_capacity, 1)),
      download_capacity_(std::max<size_t>(download_capacity, 1)) {}

RecoveryEvent& StatusEvents::push(RecoveryKind kind, std::string_view url, uint64_t offset) {
    if (events_.size() >= event_capacity_) events_.pop_front();
    RecoveryEvent& e = events_.emplace_back();
    e.seq = ++seq_;
    e.time = wall_seconds_f();
    e.kind = kind;
    e.url = bounded(url);
    e.offset = offset;
    return e;
}

void StatusEvents::cut(std::string_view url, uint64_t offset, uint32_t attempt, uint64_t delay_ms,
                       std::string_view cause) {
    RecoveryEvent& e = push(RecoveryKind::Cut, url, offset);
    e.attempt = attempt;
    e.delay_ms = delay_ms;
    e.detail = bounded(cause);
}

void StatusEvents::resumed(std::string_view url, uint64_t offset, double outage_seconds,
                           uint64_t bytes_lost) {
    RecoveryEvent& e = push(RecoveryKind::Resumed, url, offset);
    e.outage_seconds = outage_seconds;
    e.bytes_lost = bytes_lost;
}

void StatusEvents::gave_up(std::string_view url, uint64_t offset, std::string_view why) {
    push(RecoveryKind::GaveUp, url, offset).detail = bounded(why);
}

void StatusEvents::stored(std::string_view url, uint64_t bytes) {
    push(RecoveryKind::Stored, url, bytes);
}

void StatusEvents::checked(std::string_view url, uint64_t bytes, bool verified,
                           std::string_view sha256) {
    push(RecoveryKind::Checked, url, bytes).detail =
        bounded(std::string(verified ? "verified " : "unverified ") + std::string(sha256));
}

bool StatusEvents::finished(FinishedDownload download) {
    download.seq = ++seq_;
    download.time = wall_seconds_f();
    if (download.url.size() > kMaxText) download.url.resize(kMaxText);
    double began = download.time - download.duration_ms / 1000.0;
    download.recovered = std::any_of(events_.begin(), events_.end(), [&](const RecoveryEvent& e) {
        return e.kind == RecoveryKind::Resumed && e.time >= began && e.url == download.url;
    });
    if (downloads_.size() >= download_capacity_) downloads_.pop_front();
    bool recovered = download.recovered;
    downloads_.push_back(std::move(download));
    return recovered;
}

StatusEvents& status_events() {
    static StatusEvents instance;
    return instance;
}

}  // namespace proxy
