// Fetch: its timers, one purpose each.
//
// - deferred_ (proxy/loop/deferred_call.h): the next loop iteration, for what must not run
//   inside the callback that asks for it. Posted when the breaker refuses a start
//   (start_transfer: start() runs before the first client is attached, so it fails from here),
//   when a range fill is added inside a curl callback (want_range: libcurl refuses new handles
//   there) or ends (range_fill_over: it is freed outside its own callbacks), when a signed-URL
//   refresh begins (try_refresh_url: its request starts from here) or ends (on_url_refreshed: it
//   is freed from here), when the main fill's next run is to be planned (schedule_replan), and
//   when readers wake a held fill (wake_held_fill: CachedResponse::pump must not be re-entered by
//   the bytes a resumed transfer delivers at once). Runs: run_deferred, which does whatever of
//   that is due.
// - pacer_'s hold re-check (fill_pacer.h): every FillPacer::kRecheckMs while the fill is held a
//   window ahead of its readers; armed by FillPacer::hold_for_readers, stopped when the hold
//   ends. Fires: recheck_held_fill, which resumes the fill once its readers caught up, left or
//   stopped reading, or when it is time to breathe.
// No other timer is the fetch's own: the resume engines (the main fill's, each range fill's)
// keep theirs for a deferred start, the backoff and the stall watch
// (proxy/upstream/resumable_transfer_timers.h), and the range fills' back-off after a failure
// is a deadline that want_range reads when a reader asks (range_fill_set.h), not a timer.
//
// Fetch::close closes both handles (deferred_, then pacer_'s); the second close callback frees
// the fetch.
#include "proxy/admin/metrics.h"
#include "proxy/fetch/fetch.h"

namespace proxy {

void Fetch::schedule_replan() {
    cursor_.want_replan();
    deferred_.post();
}

// In this order: a refusal ends the fetch; nothing waits for a refresh's request to start; while
// a fresh URL is awaited the fill neither replans nor resumes (it continues from
// on_url_refreshed, which posts again).
void Fetch::run_deferred() {
    if (closing_) return;
    identity_.free_retired();
    if (auto why = outcome_.take_refusal()) {
        origin_failed(FetchEnd::HostDown, std::move(*why));
        return;
    }
    range_fills_.tend(request_, validator());
    if (identity_.take_due_start()) {
        if (!identity_.start_refresh()) {
            metrics().url_refresh_failures.inc();
            fail(FetchEnd::ResumeRefused, "could not start the request for a fresh signed URL");
        }
        return;
    }
    if (identity_.refreshing()) return;  // the fill waits for a fresh URL
    if (cursor_.take_replan()) {
        plan_fill();
        return;
    }
    // A fill held for its clients runs again when they catch up, leave or stop reading.
    if (pacer_.held_for_readers()) maybe_resume();
}

void Fetch::recheck_held_fill() {
    if (closing_ || identity_.refreshing()) return;  // the fill waits for a fresh URL
    if (pacer_.held_for_readers()) maybe_resume();
}

}  // namespace proxy
