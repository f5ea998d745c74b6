// FetchOutcome: where a Fetch stands towards its clients -- starting, ready (and how the
// response is served: CacheResult), handed over (not cacheable: the first client takes the
// transfer) or failed (and why: FetchEnd) -- plus a start the origin's breaker refused, which
// fails the fetch from its deferred call rather than inside start().
//
// The state moves Starting → Ready | Handed | Failed, and Ready → Failed; only the refetch after
// a sha256 mismatch goes back to Starting (restart). Once Failed the end stays, also across a
// restart: a record job that finishes late still sees that the object changed.
//
// A value with no handles. Thread: the loop thread. Owned by its Fetch.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace proxy {

// How a response was served, for the access log and metrics.
enum class CacheResult { Hit, Miss, PartialHit, Revalidated };
std::string_view to_string(CacheResult r);

// Why a fill ended without its object (Fetch::fail). It alone decides what becomes of the stored
// chunks: only ObjectChanged invalidates them (policy::judge_held_bytes); every other end keeps
// every verified chunk for the next request to resume after. Strings exist only in logs.
enum class FetchEnd {
    ObjectChanged,     // evidence the object changed on the origin (validator, length, overlap)
    ResumeRefused,     // the origin answered a resume with an error or an unusable 206/416
    RetriesExhausted,  // the transfer kept failing (or no time was left) and retries gave up
    NoValidator,       // a resume is needed and nothing proves the object unchanged
    Unusable,          // the origin's first answer could not be used
    StartFailed,       // the upstream request could not be started
    HostDown,          // the origin's circuit breaker is open (proxy/upstream/host_health.h)
};
std::string_view to_string(FetchEnd e);

enum class FetchState { Starting, Ready, Failed, Handed };

class FetchOutcome {
  public:
    FetchState state() const { return state_; }
    CacheResult result() const { return result_; }
    // Why it failed, once state() is Failed.
    std::optional<FetchEnd> end() const { return end_; }

    // The head is known: clients are served, as `result`.
    void become_ready(CacheResult result) {
        state_ = FetchState::Ready;
        result_ = result;
    }
    // Not cacheable: the clients get the origin's answer through their own transfers.
    void hand_over() { state_ = FetchState::Handed; }
    void fail(FetchEnd end) {
        state_ = FetchState::Failed;
        end_ = end;
    }
    // The refetch after a sha256 mismatch starts over as a miss.
    void restart() {
        state_ = FetchState::Starting;
        result_ = CacheResult::Miss;
    }

    // The breaker refused the start (`reason`); clients may try again after `retry_after_s`.
    // The fetch fails with FetchEnd::HostDown when take_refusal() is next asked.
    void refuse_start(std::string reason, uint32_t retry_after_s) {
        retry_after_s_ = retry_after_s;
        host_refusal_ = std::move(reason);
    }
    // The refusal's reason, once; nullopt when none is pending.
    std::optional<std::string> take_refusal() { return std::exchange(host_refusal_, std::nullopt); }
    // The Retry-After for the 503 of a fetch that failed because its origin's breaker is open
    // (FetchEnd::HostDown); 0 otherwise.
    uint32_t host_down_retry_after() const {
        return end_ == FetchEnd::HostDown ? retry_after_s_ : 0;
    }

  private:
    FetchState state_ = FetchState::Starting;
    CacheResult result_ = CacheResult::Miss;
    std::optional<FetchEnd> end_;
    uint32_t retry_after_s_ = 0;               // FetchEnd::HostDown: when a client may try again
    std::optional<std::string> host_refusal_;  // the breaker refused: fail from the deferred call
};

}  // namespace proxy
