// XorbCapture: stores the byte ranges of a Xet transfer answer while it streams to the client
// (issue 15 item 2, docs/huggingface.md "Xorb cache").
//
// A xorb request the cache could not answer is forwarded exactly (policy/exact_forward.h); its
// answer goes to the client unchanged, and a copy of each body piece is given to this object,
// which takes the byte ranges out of it: the whole body of a single-range 206 (its
// Content-Range), or each part of a multipart/byteranges 206 (policy/multipart.h). When the
// answer ends -- complete, or cut by the origin -- what arrived is written into the xorb's
// sparse object in the store (cache::Store::put_extents) on a worker thread: whole parts, and
// the received prefix of a part that was cut. Only parts inside a range the client asked for
// are kept, and nothing from an answer that is not a 206 of the xorb.
//
// Memory: the captured bytes are held until the answer ends, at most kMaxCapture (a xorb is at
// most 64 MiB); past that, the rest of the answer is streamed but not stored.
//
// Thread: the loop thread, except the store write, which owns a moved copy of the parts.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "policy/byte_range.h"
#include "policy/header_list.h"
#include "policy/multipart.h"
#include "policy/xorb_request.h"

namespace cache {
class Store;
}

namespace proxy::xet {

class XorbCapture final : private policy::MultipartVisitor {
  public:
    static constexpr uint64_t kMaxCapture = uint64_t{80} << 20;

    // `range_value`: the Range the client sent (and the origin was asked for).
    XorbCapture(policy::XorbTarget xorb, std::string range_value);

    // The origin's answer head. Anything but a 206 with a usable Content-Range or boundary
    // turns the capture off.
    void on_head(int status, const policy::HeaderList& headers);
    // A piece of the body as the client gets it.
    void on_body(const char* data, size_t size);
    // The answer ended (`complete` false: cut or failed). Queues the store write of what was
    // captured; the capture is spent afterwards. `now` in Unix seconds.
    void finish(uv_loop_t* loop, cache::Store& store, int64_t now);

    uint64_t captured_bytes() const { return captured_; }

  private:
    struct Part {
        uint64_t offset = 0;
        std::string bytes;
    };

    void on_part(policy::ByteRange range, uint64_t complete_length) override;
    void on_part_bytes(std::string_view bytes) override;
    void on_part_end() override {}
    bool asked_for(policy::ByteRange range) const;
    void stop() { active_ = false; }

    policy::XorbTarget xorb_;
    std::vector<policy::ByteRange> asked_;  // the request's ranges, unclamped
    bool active_ = false;
    bool in_part_ = false;  // bytes go to parts_.back()
    uint64_t part_left_ = 0;
    std::optional<policy::MultipartParser> multipart_;
    uint64_t complete_length_ = 0;
    uint64_t captured_ = 0;
    std::vector<Part> parts_;
};

}  // namespace proxy::xet
