// StatusEvents: what the status page (GET / and GET /events on the admin endpoint) shows beyond
// the live fills: a bounded ring of recovery events (a transfer cut, bytes flowing again, a fill
// given up, an object stored) and a bounded ring of finished client downloads with their outcome.
//
// The request path records with one-line calls:
//
//     status_events().cut(url, offset, attempt, delay_ms, cause);      // fetch_retry.cpp
//     status_events().resumed(url, offset, outage_seconds, refetched);   // fetch_retry.cpp
//     status_events().gave_up(url, offset, why);                         // fetch.cpp
//     status_events().stored(url, bytes);                                // fetch_fill.cpp
//     status_events().finished(download);                                // access_log.cpp
//
// Memory is bounded: each ring keeps its newest `capacity` entries and forgets the oldest; a
// string field is cut to kMaxText bytes. Every entry gets a sequence number (one counter for both
// rings, starting at 1) so a reader asks for "what is newer than N" (EventStream sends only that
// on each tick).
//
// Thread: the loop thread only (the fills and the access log run there). Times are seconds since
// the epoch, stamped on record.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

namespace proxy {

enum class RecoveryKind : uint8_t {
    Cut,      // the upstream transfer broke (or stalled, or answered 5xx); a retry is scheduled
    Resumed,  // body bytes flow again after a cut
    GaveUp,   // the fill failed: retries exhausted, or the object changed
    Stored,   // the object is complete in the cache
    Checked,  // its sha256 was computed: detail "verified <hex>" or "unverified <hex>" (nothing
              // announced to compare with); a mismatch is a GaveUp (docs/model-hosts.md)
};
// "cut", "resumed", "gave_up", "stored", "checked".
std::string_view to_string(RecoveryKind kind);

struct RecoveryEvent {
    uint64_t seq = 0;
    double time = 0;
    RecoveryKind kind = RecoveryKind::Cut;
    std::string url;
    uint64_t offset = 0;        // Cut: next byte needed; Resumed: where bytes resumed; Stored: size
    uint32_t attempt = 0;       // Cut: the retry's number (1 = first retry)
    uint64_t delay_ms = 0;      // Cut: backoff before that retry
    double outage_seconds = 0;  // Resumed: from the first cut of this outage to bytes again
    uint64_t bytes_lost = 0;    // Resumed: bytes received again that had already arrived
    std::string detail;         // Cut/GaveUp: the cause, in dlproxy's technical words
};

// One finished client transaction (an access-log line), as the page lists it.
struct FinishedDownload {
    uint64_t seq = 0;
    double time = 0;
    std::string url;
    std::string method;
    std::string result;  // an access-log result word ("HIT", "MISS", ...)
    int status = 0;
    uint64_t bytes = 0;
    double duration_ms = 0;
    bool recovered = false;  // a Resumed event for this URL happened during the transaction
};

class StatusEvents {
  public:
    static constexpr size_t kMaxText = 512;

    explicit StatusEvents(size_t event_capacity = 200, size_t download_capacity = 50);

    void cut(std::string_view url, uint64_t offset, uint32_t attempt, uint64_t delay_ms,
             std::string_view cause);
    void resumed(std::string_view url, uint64_t offset, double outage_seconds, uint64_t bytes_lost);
    void gave_up(std::string_view url, uint64_t offset, std::string_view why);
    void stored(std::string_view url, uint64_t bytes);
    void checked(std::string_view url, uint64_t bytes, bool verified, std::string_view sha256);
    // Assigns seq and time; sets `recovered` from the event ring (a Resumed event for the same
    // URL within the last duration_ms) and returns it.
    bool finished(FinishedDownload download);

    // Oldest first. Entries with seq > n are the ones recorded after seq n.
    const std::deque<RecoveryEvent>& events() const { return events_; }
    const std::deque<FinishedDownload>& downloads() const { return downloads_; }
    // The newest sequence number handed out (0: nothing recorded yet).
    uint64_t last_seq() const { return seq_; }

  private:
    RecoveryEvent& push(RecoveryKind kind, std::string_view url, uint64_t offset);

    size_t event_capacity_, download_capacity_;
    std::deque<RecoveryEvent> events_;
    std::deque<FinishedDownload> downloads_;
    uint64_t seq_ = 0;
};

// The process-wide instance (created on first use, like metrics()).
StatusEvents& status_events();

}  // namespace proxy
