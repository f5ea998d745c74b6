// FallbackFill: a fill continued from a fallback source once its origin failed (issue 16 item 3,
// docs/recovery.md "Fallback sources"; the decisions are policy/fallback_source.h).
//
// When the origin of a fill fails -- the resume engine spent its retries, or the host's circuit
// breaker refuses it -- and `fallback_source` names a source for the request's host, the Fetch
// sends the rest of its requests to the source's URL for the object: the same resume engine,
// the same run of missing bytes, `Range` without `If-Range` (the stored validator is the
// origin's, not the source's), the client's fields without the original host's credentials.
// Before any byte of a source is taken, its answer must name the same content as the stored
// object (policy::same_content == Yes); after that the source's own strong ETag guards its
// resumes. A source that fails or differs ends the fill as the origin's failure would have
// (the next source first, when there is one), and never as ObjectChanged: a mirror that
// differs says nothing about the stored chunks.
//
// A part of Fetch without handles: it holds which source is in use and what it delivered;
// the Fetch sends the requests. Thread: the loop thread. Owned by its Fetch.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/fallback_source.h"
#include "proxy/upstream/resumable_transfer.h"

namespace proxy {

enum class FetchEnd;  // fetch.h

class FallbackFill {
  public:
    // The sources `entries` (config fallback_source) name for `original_url`, in configured
    // order. Parsed at each call: entries were checked when the configuration loaded, and a
    // SIGHUP that changes them applies to the next failure.
    static std::vector<policy::RequestTarget> targets_for(const std::string& original_url,
                                                          const std::vector<std::string>& entries);

    // The origin failed with `end` (`detail` for logs): takes the next source configured for
    // `original_url` in `entries` (config fallback_source, read now so that a reload applies to
    // the next failure). False when there is none, or every one was tried.
    bool next_source(const std::string& original_url, const std::vector<std::string>& entries,
                     FetchEnd end, std::string detail, uint64_t now_ms);

    bool active() const { return index_ > 0; }
    // The current source's answer was judged the same content: its bytes are being taken.
    bool accepted() const { return accepted_; }
    // The current source's URL for the object.
    const std::string& url() const { return url_; }
    // The first failure of the origin, which ends the fill if no source can continue it.
    FetchEnd origin_end() const { return origin_end_; }
    const std::string& origin_detail() const { return origin_detail_; }

    // `original` sent to the source: its URL, the fields policy::fallback_request_headers keeps.
    UpstreamRequest request(const UpstreamRequest& original) const;
    // `run` asked of the source: no If-Range until its head was accepted, its own ETag after.
    ResumeRun run(ResumeRun run) const;

    // Whether the source's answer may continue the object described by `stored`. `partial` is
    // the engine's verdict on the range (where it starts, the complete length). Empty when it
    // may; otherwise why not, for the log.
    std::string judge(const policy::ContentFacts& stored, int status,
                      const policy::HeaderList& headers,
                      const std::optional<policy::PartialDecision>& partial) const;
    // The source's answer is taken (judge said yes): its strong ETag guards its resumes.
    // Returns how long it took since the origin failed, in ms.
    uint64_t accept(const policy::HeaderList& headers, uint64_t now_ms);

    void add_bytes(uint64_t n) { bytes_ += n; }
    uint64_t bytes() const { return bytes_; }  // body bytes from sources in this fill

  private:
    std::vector<policy::RequestTarget> targets_;  // for the original URL, in configured order
    size_t index_ = 0;                            // 1 + the source in use; 0: none
    std::string url_;
    FetchEnd origin_end_{};
    std::string origin_detail_;
    uint64_t failed_ms_ = 0;  // when the origin (or the previous source) failed
    std::optional<policy::Validator> validator_;
    bool accepted_ = false;
    uint64_t bytes_ = 0;
};

}  // namespace proxy
