// StaleAllowance: whether a Fetch whose revalidation fails may serve the stored copy instead
// (RFC 9111 §4.2.4, RFC 5861 §4; policy/stale_on_error.h decides, docs/model-hosts.md).
//
// The operator's settings for the request's host (stale_if_error, stale_if_disconnected) are
// fixed when the fetch is made; the stored response's and the request's directives join them
// when a foreground revalidation starts (decide). Until then nothing is allowed.
//
// A value with no handles. Thread: the loop thread. Owned by its Fetch.
#pragma once

#include <cstdint>

#include "policy/freshness.h"
#include "policy/header_list.h"
#include "policy/stale_on_error.h"

namespace proxy {

class StaleAllowance {
  public:
    explicit StaleAllowance(policy::StaleHostSettings hosts) : hosts_(hosts) {}

    // A revalidation of the stored response (`stored`, its `times`) for `request` starts at
    // `now` (seconds).
    void decide(const policy::HeaderList& stored, const policy::HeaderList& request,
                policy::ResponseTimes times, int64_t now) {
        allowed_ = policy::stale_on_error(stored, request, times, now, hosts_);
    }

    bool allows(policy::RevalidationFailure failure) const { return allowed_.allows(failure); }
    // A directive allowed it: serve on the first failure, no retries.
    bool at_once() const { return allowed_.at_once; }
    policy::StaleOnErrorReason reason() const { return allowed_.reason; }

  private:
    policy::StaleHostSettings hosts_;
    policy::StaleOnError allowed_;
};

}  // namespace proxy
