// ResumableTransfer: the body of an accepted answer. Its leading bytes that the owner already
// has are dropped, the last of them compared with the owner's last byte (policy::HeldPrefix; a
// mismatch ends with ObjectChanged); the rest goes to the owner, which may pause it. Here, too,
// the position in the run advances, the stall watch hears of bytes, and the first bytes after
// an outage end it (counted, logged, ResumeOwner::on_recovered).
#include <spdlog/spdlog.h>

#include <string>

#include "proxy/admin/metrics.h"
#include "proxy/upstream/resumable_transfer.h"

namespace proxy {

UpstreamSink::BodyAction ResumableTransfer::on_upstream_body(const char* data, size_t size) {
    // The bytes of the answer the owner already has; the last of them must equal its last one.
    // On a copy: a Pause leaves them all to be delivered again.
    policy::HeldPrefix prefix = answer_.prefix;
    auto step =
        policy::drop_held_prefix(prefix, reinterpret_cast<const unsigned char*>(data), size);
    if (step.mismatch) {
        retire();
        end(ResumeEnd::ObjectChanged, 0,
            std::string(policy::to_string(policy::overlap_differs().evidence)));
        return BodyAction::Accept;
    }
    const char* rest = data + step.dropped;
    const size_t left = size - step.dropped;
    const uint64_t gen = generation_;
    BodyAction action = BodyAction::Accept;
    if (left > 0) action = owner_.on_resume_body(rest, left);
    if (action == BodyAction::Pause) {
        if (gen == generation_) paused_ = true;
        return action;
    }
    if (action == BodyAction::Abort) return action;
    answer_.prefix = prefix;
    metrics().discarded_bytes.add(step.dropped);
    const uint64_t now = uv_now(loop_);
    bytes_received_ += size;
    if (gen != generation_) return action;  // the owner stopped or restarted it
    clock_.heard(now);
    stall_.on_bytes(now);
    if (left == 0) return action;
    progress_.position += left;
    answer_.prefix.overlap_byte = static_cast<unsigned char>(rest[left - 1]);
    progress_.have_last_byte = true;
    if (clock_.in_outage()) {  // bytes flow again: the outage is over
        const uint32_t attempts = clock_.attempt();
        const uint64_t outage_ms = clock_.recovered(now);
        metrics().recovery_seconds.observe(static_cast<double>(outage_ms) / 1000.0);
        spdlog::info("{}: resumed at offset {} after {} attempt(s)", label_,
                     progress_.position - left, attempts);
        owner_.on_recovered(progress_.position - left, outage_ms, answer_.resent);
    }
    return action;
}

}  // namespace proxy
