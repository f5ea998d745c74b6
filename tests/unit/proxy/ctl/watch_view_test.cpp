#include "proxy/ctl/watch_view.h"

#include <doctest/doctest.h>

using nlohmann::json;

namespace {

json doc(double time, uint64_t done, json events = json::array(), json downloads = json::array()) {
    return {{"time", time},
            {"version", "0.1.0"},
            {"uptime_seconds", 75},
            {"cache", {{"bytes_present", 2000000}, {"budget", 10000000}}},
            {"totals",
             {{"hits", 3},
              {"misses", 1},
              {"partial_hits", 0},
              {"revalidated", 0},
              {"bytes_from_cache", 5000000},
              {"resumes", 1}}},
            {"fills",
             {{{"url", "http://h.test/models/big.safetensors?x=1"},
               {"bytes_done", done},
               {"total", 4000000},
               {"rate_bytes_per_s", 1},
               {"state", "transferring"},
               {"clients", 2}}}},
            {"events", events},
            {"downloads", downloads}};
}

}  // namespace

TEST_CASE("proxy/ctl/watch_view: sizes, bars and plain-word states") {
    using namespace ctl::detail;
    CHECK(decimal_size(999) == "999 B");
    CHECK(decimal_size(12'400'000'000) == "12.4 GB");
    CHECK(decimal_size(1'500'000) == "1.50 MB");
    CHECK(progress_bar(0.5, 12) == "[#####.....]");
    CHECK(progress_bar(2, 4) == "[##]");
    CHECK(progress_bar(-1, 4) == "[..]");
    CHECK(state_words({{"state", "transferring"}}, 0) == "downloading");
    CHECK(state_words({{"state", "starting"}}, 0) == "waiting for the origin");
    CHECK(state_words({{"state", "waiting_retry"}, {"retry_in_ms", 2500}}, 3) == "retry 3 in 3 s");
    CHECK(state_words({{"state", "something_new"}}, 0) == "something new");
}

TEST_CASE("proxy/ctl/watch_view: a screen with progress, timeline, recent downloads, problems") {
    ctl::WatchView view;
    CHECK(view.render(80) == "waiting for dlproxy...\n");
    const std::string url = "http://h.test/models/big.safetensors?x=1";
    json events = {{{"seq", 1},
                    {"kind", "cut"},
                    {"url", url},
                    {"offset", 1200000},
                    {"attempt", 1},
                    {"detail", "connection reset"}},
                   {{"seq", 2},
                    {"kind", "resumed"},
                    {"url", url},
                    {"offset", 1200000},
                    {"outage_seconds", 1.8},
                    {"bytes_lost", 0}},
                   {{"seq", 3},
                    {"kind", "gave_up"},
                    {"url", "http://h.test/other.bin"},
                    {"detail", "object changed on the origin"}}};
    json downloads = {{{"seq", 4},
                       {"url", "http://h.test/a.bin"},
                       {"method", "GET"},
                       {"result", "MISS"},
                       {"recovered", true},
                       {"bytes", 3000000}},
                      {{"seq", 5},
                       {"url", "http://h.test/b.bin"},
                       {"method", "GET"},
                       {"result", "ERROR"},
                       {"status", 502},
                       {"bytes", 0}}};
    view.apply(doc(100, 1000000, events, downloads));
    view.apply(doc(101, 2000000));  // 1 MB in 1 s
    std::string screen = view.render(100);
    CHECK(screen.find("cache 2.00 MB of 10.0 MB") != std::string::npos);
    CHECK(screen.find("hit ratio 75%") != std::string::npos);
    CHECK(screen.find("big.safetensors") != std::string::npos);
    CHECK(screen.find("50.0%") != std::string::npos);
    CHECK(screen.find("2.00 MB of 4.00 MB") != std::string::npos);
    CHECK(screen.find("ETA 2 s") != std::string::npos);
    CHECK(screen.find("big.safetensors  -- downloading") != std::string::npos);
    CHECK(screen.find("2 client(s)") != std::string::npos);
    CHECK(screen.find("cut at 1.20 MB (connection reset) -> resumed at 1.20 MB after 1.8 s, "
                      "0 B lost") != std::string::npos);
    CHECK(screen.find("MISS (resumed)") != std::string::npos);
    CHECK(screen.find("PROBLEMS") != std::string::npos);
    CHECK(screen.find("other.bin: object changed on the origin") != std::string::npos);
    CHECK(screen.find("b.bin: ERROR (status 502)") != std::string::npos);
    // Every line fits the width.
    size_t begin = 0;
    while (begin < screen.size()) {
        size_t end = screen.find('\n', begin);
        CHECK(end - begin <= 100);
        begin = end + 1;
    }
    // A repeated entry (a snapshot overlapping an update) is shown once.
    view.apply(doc(102, 2500000, events, downloads));
    screen = view.render(100);
    CHECK(screen.find("MISS (resumed)") == screen.rfind("MISS (resumed)"));
}
