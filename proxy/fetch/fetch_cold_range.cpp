// Fetch: ranges on a cold object (issue 18 item 3, policy/cold_range.h).
//
// The first request for an object nobody holds asks the origin for the first client's own
// range, aligned out to whole chunks, as Traffic Server and nginx's slice module do, instead of
// the whole object from byte 0: a client that wants 64 MiB at 1 GiB no longer waits for (and
// makes the origin send) the gigabyte before it. The 206's Content-Range gives the complete
// length and its validator ties later requests to this version, so the answer starts the
// object like a 200 would, with the fill's run set to the range. When that run is in,
// plan_fill() fetches the missing runs with Range + If-Range -- the fill continues behind it
// while clients are attached; without them, background_fill's thresholds decide even in Always
// mode (policy::FillOrigin::ColdRange), so a slice of a large file does not cost the whole. No new
// transfer engine: retries, resumes, separate range fills and readers are the main fill's own.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "policy/cacheability.h"
#include "proxy/fetch/fetch.h"
#include "proxy/fetch/fetch_registry.h"

namespace proxy {

void Fetch::remember_cold_range() {
    cold_.remember(policy::find_header(request_.headers, "range"),
                   registry_.store().options().chunk_size,
                   registry_.config().max_range_fetches > 0);
}

bool Fetch::start_cold_range() {
    if (!cold_.plan()) return false;
    cursor_.set_purpose(Purpose::ColdRange);
    cursor_.start_at(cold_.plan()->begin);
    const std::string range = policy::format_cold_range(*cold_.plan());
    spdlog::info("fetch {}: not cached; asking the origin for the client's range first ({})", key_,
                 range);
    start_transfer({{"Range", range}}, "fetch the client's range");
    return true;
}

HeadAnswer Fetch::on_cold_range_head(int status, std::string_view reason,
                                     const policy::HeaderList& headers) {
    auto answer = policy::accept_cold_range(*cold_.plan(), status, headers);
    if (answer.usable()) {
        auto head = policy::whole_object_head(headers, answer.complete_length);
        auto storable = policy::decide_storable("GET", request_.headers, 200, head);
        if (storable.store && registry_.config().cache_size > 0) {
            cold_.started_object(answer.range);
            on_new_object(200, head, answer.range);
            return HeadAnswer::Accept;
        }
    }
    if (status == 200) {  // the origin ignores Range: this is the whole object
        cold_.drop_plan();
        cursor_.set_purpose(Purpose::Full);
        on_new_object(status, headers);
        if (outcome_.state() != State::Handed) return HeadAnswer::Accept;
        hand_over(status, reason, headers);
        return HeadAnswer::Taken;
    }
    if (status != 206) {
        // A redirect (to a CDN, with the client's Range to follow), 403, 404, 416...: the
        // client's answer, as a plain GET would have brought it.
        hand_over(status, reason, headers);
        return HeadAnswer::Taken;
    }
    // A 206 that cannot start the object (no validator, another range, not storable): ask for
    // the whole object, as before.
    spdlog::info(
        "fetch {}: the answer to the client's range cannot start the object ({}); "
        "fetching it whole",
        key_, answer.usable() ? "not storable" : policy::to_string(answer.reason));
    cold_.drop_plan();
    retire_transfer();
    cursor_.set_purpose(Purpose::Full);
    cursor_.start_at(0);
    start_transfer({}, "fetch");
    return HeadAnswer::Taken;
}

void Fetch::release_fill_behind() {
    if (cold_.release_behind(listeners_)) plan_fill();
}

bool Fetch::serve_stored_range(const std::optional<policy::ColdRange>& wanted) {
    if (!wanted || object().complete_length == 0) return false;
    const uint64_t end =
        std::min(wanted->end.value_or(object().complete_length), object().complete_length);
    if (wanted->begin >= end) return false;
    const auto last = static_cast<uint32_t>(object().chunk_of(end - 1));
    for (auto i = static_cast<uint32_t>(object().chunk_of(wanted->begin)); i <= last; ++i)
        if (!held(i)) return false;
    cold_.serve_stored({wanted->begin, end});
    return true;
}

}  // namespace proxy
