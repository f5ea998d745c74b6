// Fetch: HTTP semantics a fill passes on beside its bytes: the key a varying response is stored
// under (RFC 9111 §4.1, policy/vary.h) and the interim responses before its first answer
// (RFC 9110 §15.2, policy/interim.h).
#include <spdlog/spdlog.h>

#include "policy/content_digest.h"
#include "policy/vary.h"
#include "proxy/fetch/fetch.h"
#include "proxy/fetch/fetch_registry.h"

namespace proxy {

void Fetch::select_variant(const policy::HeaderList& headers) {
    // A content key (sha256:<hex>) names the bytes themselves: no request field can select
    // other bytes under it.
    if (policy::sha256_of_content_key(key_)) return;
    const std::string primary(policy::primary_key(key_));
    policy::VaryFields fields = policy::vary_fields(headers);
    std::string key = fields.names.empty()
                          ? primary
                          : policy::variant_key(primary, fields.names, request_.headers);
    std::string old_key = std::exchange(key_, std::move(key));
    if (old_key != key_) spdlog::debug("fetch {}: stored as the variant {}", old_key, key_);
    registry_.variant_stored(*this, old_key, fields.names);
}

void Fetch::on_resume_interim(int status, std::string_view reason,
                              const policy::HeaderList& headers) {
    // Only before the first answer: the clients of a running fill already have their head.
    if (outcome_.state() != State::Starting) return;
    auto listeners = listeners_;
    for (auto* l : listeners)
        l->on_fetch_interim(status, reason, headers);
}

}  // namespace proxy
