// StatusSnapshot: the JSON document the status page renders, built from the same sources as
// GET /status and GET /metrics (the fills' StatusProvider, the Metrics registry, the cache
// index totals) plus the StatusEvents rings. EventStream sends one per tick.
//
// Shape (one line of JSON; docs/status-page.md documents each field):
//   {"time", "version", "uptime_seconds",
//    "cache": {"bytes_present", "budget", "objects", "complete_objects"} | null,
//    "totals": {"hits", "misses", "partial_hits", "revalidated", "errors", "aborted",
//               "bytes_to_clients", "bytes_from_cache", "bytes_from_upstream", "retries",
//               "resumes", "give_ups"},
//    "fills": [{"url", "key", "bytes_done", "total"|null, "rate_bytes_per_s", "attempts",
//               "state", "clients", "retry_in_ms"|null}],
//    "events": [{"seq", "time", "kind", "url", "offset", "attempt", "delay_ms",
//                "outage_seconds", "bytes_lost", "detail"}],
//    "downloads": [{"seq", "time", "url", "method", "result", "status", "bytes", "duration_ms",
//                   "recovered"}],
//    "last_seq"}
// `events` and `downloads` hold only entries with seq > after_seq, so a stream sends each once.
//
// Thread: the loop thread. The references must outlive the StatusSnapshot; `cache` may be null.
#pragma once

#include <cstdint>
#include <string>

#include "proxy/admin/cache_admin.h"
#include "proxy/admin/metrics.h"
#include "proxy/admin/status_events.h"
#include "proxy/fetch/fill_status.h"

namespace proxy {

class StatusSnapshot {
  public:
    StatusSnapshot(const Metrics& metrics, const CacheAdmin* cache, const StatusProvider& fills,
                   const StatusEvents& events, uint64_t cache_budget, double start_time);

    // `now`: seconds since the epoch.
    std::string render(uint64_t after_seq, double now) const;
    uint64_t last_seq() const { return events_.last_seq(); }

  private:
    const Metrics& metrics_;
    const CacheAdmin* cache_;
    const StatusProvider& fills_;
    const StatusEvents& events_;
    uint64_t cache_budget_;
    double start_time_;
};

}  // namespace proxy
