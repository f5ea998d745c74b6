#include "proxy/admin/status_events.h"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "proxy/admin/status_snapshot.h"

using proxy::FinishedDownload;
using proxy::RecoveryKind;
using proxy::StatusEvents;

namespace {

FinishedDownload download(std::string url, double duration_ms = 0, std::string result = "MISS") {
    FinishedDownload d;
    d.url = std::move(url);
    d.duration_ms = duration_ms;
    d.result = std::move(result);
    d.status = 200;
    return d;
}

}  // namespace

TEST_CASE("proxy/admin/status_events: the ring keeps the newest entries, seq keeps counting") {
    StatusEvents ring(3, 2);
    for (uint64_t i = 0; i < 5; ++i)
        ring.cut("http://h/a", i * 100, static_cast<uint32_t>(i + 1), 500, "cut");
    REQUIRE(ring.events().size() == 3);
    CHECK(ring.events().front().seq == 3);
    CHECK(ring.events().back().seq == 5);
    CHECK(ring.events().back().offset == 400);
    CHECK(ring.events().back().attempt == 5);
    for (int i = 0; i < 4; ++i)
        ring.finished(download("http://h/d" + std::to_string(i)));
    REQUIRE(ring.downloads().size() == 2);
    CHECK(ring.downloads().front().url == "http://h/d2");
    CHECK(ring.downloads().back().seq == 9);  // one counter for both rings
    CHECK(ring.last_seq() == 9);
}

TEST_CASE("proxy/admin/status_events: long text is cut to kMaxText") {
    StatusEvents ring;
    std::string huge(10 * StatusEvents::kMaxText, 'x');
    ring.gave_up(huge, 7, huge);
    CHECK(ring.events().back().url.size() == StatusEvents::kMaxText);
    CHECK(ring.events().back().detail.size() == StatusEvents::kMaxText);
    CHECK(ring.events().back().kind == RecoveryKind::GaveUp);
    ring.finished(download(huge));
    CHECK(ring.downloads().back().url.size() == StatusEvents::kMaxText);
}

TEST_CASE("proxy/admin/status_events: a download is 'recovered' when its URL resumed during it") {
    StatusEvents ring;
    ring.cut("http://h/a", 1000, 1, 200, "connection reset");
    ring.resumed("http://h/a", 1000, 0.4, 0);
    CHECK(ring.finished(download("http://h/a", 60'000)));
    CHECK(ring.downloads().back().recovered);
    CHECK_FALSE(ring.finished(download("http://h/b", 60'000)));
    // A resume before the transaction began is not this transaction's.
    CHECK_FALSE(ring.finished(download("http://h/a", -60'000)));
}

namespace {

class OneFill : public proxy::StatusProvider {
  public:
    std::vector<proxy::FillStatus> inflight_fills() const override {
        proxy::FillStatus f;
        f.url = "http://h/a";
        f.bytes_done = 500;
        f.total = 1000;
        f.state = "waiting_retry";
        f.clients = 2;
        f.retry_in_ms = 1500;
        return {f};
    }
};

}  // namespace

TEST_CASE("proxy/admin/status_snapshot: one JSON line; events and downloads after a seq only") {
    StatusEvents ring;
    proxy::Metrics metrics;
    metrics.requests(proxy::RequestResult::Hit).add(3);
    metrics.bytes_from_cache.add(12345);
    OneFill fills;
    proxy::StatusSnapshot snapshot(metrics, nullptr, fills, ring, 1 << 30, 1000);
    ring.cut("http://h/a", 500, 1, 1500, "status 503");
    ring.finished(download("http://h/b", 0, "HIT"));
    std::string text = snapshot.render(0, 1010);
    CHECK(text.find('\n') == std::string::npos);
    auto doc = nlohmann::json::parse(text);
    CHECK(doc["uptime_seconds"] == 10);
    CHECK(doc["cache"].is_null());
    CHECK(doc["totals"]["hits"] == 3);
    CHECK(doc["totals"]["bytes_from_cache"] == 12345);
    REQUIRE(doc["fills"].size() == 1);
    CHECK(doc["fills"][0]["clients"] == 2);
    CHECK(doc["fills"][0]["retry_in_ms"] == 1500);
    CHECK(doc["fills"][0]["total"] == 1000);
    REQUIRE(doc["events"].size() == 1);
    CHECK(doc["events"][0]["kind"] == "cut");
    CHECK(doc["events"][0]["detail"] == "status 503");
    REQUIRE(doc["downloads"].size() == 1);
    CHECK(doc["downloads"][0]["result"] == "HIT");
    CHECK(doc["last_seq"] == 2);

    auto later = nlohmann::json::parse(snapshot.render(1, 1011));
    CHECK(later["events"].empty());
    CHECK(later["downloads"].size() == 1);
    CHECK(nlohmann::json::parse(snapshot.render(2, 1011))["downloads"].empty());
}
