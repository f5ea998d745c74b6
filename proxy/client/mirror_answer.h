// MirrorAnswer: what mirror mode (policy/mirror.h, docs/huggingface.md "Mirror mode") does to one
// answer on its way to the client.
//
// Every head gets its Location, Content-Location and Link rewritten onto mirror URLs. The JSON
// answers that name hosts in their body -- Xet's xet-read-token (`casUrl`) and reconstructions
// (the presigned xorb URLs) -- are held whole, every absolute https URL on a mirrored host in
// them rewritten, and sent with a new Content-Length. Those answers are small and are never
// cached (policy/exact_forward.h); a body past kMaxBody is refused rather than sent unrewritten,
// since the client would then bypass the mirror.
//
// Thread: the loop thread. Owned by the ClientConnection serving the request, for one request.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "policy/header_list.h"
#include "policy/mirror.h"

namespace proxy {

// Every string value of the JSON document `body` that MirrorLinks::absolute() maps, rewritten;
// nullopt when `body` is not JSON (then nothing in it can be rewritten safely).
std::optional<std::string> rewrite_json_urls(std::string_view body,
                                             const policy::MirrorLinks& links);

class MirrorAnswer {
  public:
    static constexpr size_t kMaxBody = 16u << 20;

    // `json_body`: the request is one whose JSON answer names hosts (a Xet token or
    // reconstruction), so a 200 JSON body is held and rewritten.
    MirrorAnswer(policy::MirrorLinks links, bool json_body)
        : links_(std::move(links)), json_body_(json_body) {}

    const policy::MirrorLinks& links() const { return links_; }
    bool json_body() const { return json_body_; }

    // The head of the origin's answer, rewritten.
    policy::HeaderList rewrite_head(const policy::HeaderList& headers) const;

    // Whether the answer `status`/`headers` to `method` is to be held and rewritten; when true,
    // the head is kept (rewritten) until release().
    bool hold(std::string_view method, int status, std::string_view reason,
              const policy::HeaderList& headers);
    bool holding() const { return holding_; }

    // Body bytes of a held answer; false past kMaxBody (nothing more is kept).
    bool append(const char* data, size_t size);

    struct Released {
        int status = 0;
        std::string reason;
        policy::HeaderList headers;  // Content-Length set to the body's size
        std::string body;
    };
    // The held answer, its body rewritten (as received when it is not JSON).
    Released release();

  private:
    policy::MirrorLinks links_;
    bool json_body_ = false;
    bool holding_ = false;
    int status_ = 0;
    std::string reason_;
    policy::HeaderList headers_;
    std::string body_;
};

}  // namespace proxy
