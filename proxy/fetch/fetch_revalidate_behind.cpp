// Fetch: stale-while-revalidate (RFC 5861 §3, policy::serve_while_revalidating). A stored copy
// within its window is served at once (a hit) while one conditional request runs behind it:
//   - 304 with the stored validator: the stored headers and times are refreshed, as after any
//     revalidation (save_revalidated_headers), and later requests find the copy fresh;
//   - anything else (a 200, an error, no answer): nothing changes. The copy's readers are still
//     reading it, and a new body never replaces an object under its readers; the next request
//     past the window revalidates in the foreground and takes the new response then.
// No retries: nobody waits for this answer.
#include <spdlog/spdlog.h>

#include "policy/validation.h"
#include "proxy/fetch/fetch.h"
#include "proxy/fetch/fetch_registry.h"

namespace proxy {

void Fetch::revalidate_behind() {
    spdlog::info(
        "fetch {}: serving the stored copy stale while it revalidates "
        "(stale-while-revalidate)",
        key_);
    cursor_.set_purpose(Purpose::RevalidateBehind);
    start_transfer(policy::conditional_headers(object().headers), "revalidate behind a hit");
}

HeadAnswer Fetch::on_revalidated_behind(int status, const policy::HeaderList& headers) {
    if (status == 304 && policy::matches_304(object().headers, headers)) {
        refresh_from_304(headers);
        spdlog::info("fetch {}: revalidated behind a hit: 304, the stored copy is fresh again",
                     key_);
    } else {
        spdlog::info(
            "fetch {}: revalidation behind a hit answered {}; the stored copy is kept "
            "until a request past its stale-while-revalidate window",
            key_, status);
    }
    retire_transfer();
    if (idle()) registry_.release(*this);
    return HeadAnswer::Taken;
}

void Fetch::on_revalidate_behind_end(const ResumeOutcome& outcome) {
    if (outcome.end != ResumeEnd::Complete)
        spdlog::info("fetch {}: revalidation behind a hit failed ({}); the stored copy is kept",
                     key_, outcome.detail);
    if (idle()) registry_.release(*this);
}

}  // namespace proxy
