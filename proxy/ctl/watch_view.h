// WatchView: `dlproxyctl watch`'s picture of a running dlproxy, built from the status documents
// of GET /events (proxy/admin/status_snapshot.h) and rendered as text like `top`: a summary line,
// one progress bar per download in flight with its state in plain words and its recovery
// timeline, the recent downloads and the problems. The status page (proxy/admin/
// status_page.html) shows the same things in a browser.
//
// Pure: no I/O, no clock (times come from the documents), so it is unit-tested on documents.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>

namespace ctl {

class WatchView {
  public:
    // Merges one snapshot or update document: fills are replaced, events and downloads are
    // added by seq (repeats ignored) and the oldest dropped past the bounds.
    void apply(const nlohmann::json& doc);

    // The screen, `width` columns wide (at least 40), lines ending in '\n'.
    std::string render(int width) const;

  private:
    static constexpr size_t kMaxEvents = 200, kMaxDownloads = 50;

    nlohmann::json last_;                        // the newest document
    std::map<uint64_t, nlohmann::json> events_;  // by seq
    std::map<uint64_t, nlohmann::json> downloads_;
    std::map<std::string, double> rates_;  // url → bytes/s, smoothed over updates
};

namespace detail {

// "12.4 MB" (decimal units, like the status page).
std::string decimal_size(uint64_t bytes);
// "[#####.....]" of `width` cells (at least 2) for `fraction` in [0, 1].
std::string progress_bar(double fraction, int width);
// A fill's state in plain words: "downloading", "retry 2 in 3 s", ...
std::string state_words(const nlohmann::json& fill, uint32_t retry_number);

}  // namespace detail

}  // namespace ctl
