#include "proxy/identity/fill_sha256.h"

namespace proxy {

void FillSha256::begin() {
    sha_ = std::make_shared<Sha256>();
    next_ = 0;
    in_job_ = false;  // a running job holds the previous context; job_done() ignores it
    gap_ = sha_->ok() ? Gap::None : Gap::NotBegun;
    if (!sha_->ok()) sha_.reset();
}

void FillSha256::skip() {
    next_ = 0;
    end(Gap::NotWanted);
}

FillSha256::Job FillSha256::take(std::span<const uint32_t> indices) {
    if (!sha_ || indices.empty()) return {};
    if (in_job_) {
        end(Gap::Overlap);
        return {};
    }
    Job job{sha_, 0};
    for (uint32_t index : indices) {
        if (index != next_) {
            // What this job hashes before the gap is wasted; not worth a second code path.
            end(index < next_ ? Gap::Rewritten : Gap::OutOfOrder);
            return {};
        }
        ++next_;
        ++job.chunks;
    }
    in_job_ = true;
    return job;
}

void FillSha256::job_done(const Job& job, bool written) {
    if (!job || job.sha != sha_) return;  // nothing hashed, or an earlier object's context
    in_job_ = false;
    if (!written) end(Gap::WriteFailed);
}

std::shared_ptr<Sha256> FillSha256::take_covering(uint64_t chunk_count) {
    if (!sha_ || in_job_ || next_ != chunk_count) return nullptr;
    auto sha = std::move(sha_);
    end(Gap::HandedOver);
    return sha;
}

void FillSha256::end(Gap why) {
    sha_.reset();
    in_job_ = false;
    gap_ = why;
}

std::string_view to_string(FillSha256::Gap gap) {
    switch (gap) {
        case FillSha256::Gap::None:
            return "none";
        case FillSha256::Gap::NotWanted:
            return "no digest was announced to check it against";
        case FillSha256::Gap::NotBegun:
            return "the fill did not start the object at byte 0";
        case FillSha256::Gap::OutOfOrder:
            return "chunks were written out of order";
        case FillSha256::Gap::Rewritten:
            return "a chunk was written twice";
        case FillSha256::Gap::WriteFailed:
            return "a write failed";
        case FillSha256::Gap::Overlap:
            return "two write jobs overlapped";
        case FillSha256::Gap::HandedOver:
            return "its hash was already used";
    }
    return "?";
}

}  // namespace proxy
