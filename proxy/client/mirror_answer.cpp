#include "proxy/client/mirror_answer.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

namespace proxy {

namespace {

// Rewrites the string values of `node` in place; returns how many changed.
size_t rewrite_strings(nlohmann::json& node, const policy::MirrorLinks& links) {
    size_t changed = 0;
    if (node.is_string()) {
        if (auto url = links.absolute(node.get_ref<const std::string&>())) {
            node = std::move(*url);
            ++changed;
        }
    } else if (node.is_structured()) {
        for (auto& child : node)
            changed += rewrite_strings(child, links);
    }
    return changed;
}

bool is_json(const policy::HeaderList& headers) {
    auto type = policy::find_header(headers, "content-type");
    if (!type) return false;
    std::string_view media = type->substr(0, type->find(';'));
    media = policy::trim_ows(media);
    return policy::iequals(media, "application/json") ||
           (media.size() > 5 && policy::iequals(media.substr(media.size() - 5), "+json"));
}

}  // namespace

std::optional<std::string> rewrite_json_urls(std::string_view body,
                                             const policy::MirrorLinks& links) {
    auto doc = nlohmann::json::parse(body, nullptr, false);
    if (doc.is_discarded()) return std::nullopt;
    if (rewrite_strings(doc, links) == 0) return std::string(body);
    return doc.dump();
}

policy::HeaderList MirrorAnswer::rewrite_head(const policy::HeaderList& headers) const {
    policy::HeaderList out = headers;
    links_.rewrite_headers(out);
    return out;
}

bool MirrorAnswer::hold(std::string_view method, int status, std::string_view reason,
                        const policy::HeaderList& headers) {
    // An encoded body cannot be parsed; the request asked for identity (client_forwarding.cpp),
    // so an encoding here is the origin's choice and the answer goes as it came.
    if (!json_body_ || method != "GET" || status != 200 || !is_json(headers) ||
        policy::find_header(headers, "content-encoding"))
        return false;
    holding_ = true;
    status_ = status;
    reason_ = std::string(reason);
    headers_ = rewrite_head(headers);
    return true;
}

bool MirrorAnswer::append(const char* data, size_t size) {
    if (body_.size() + size > kMaxBody) {
        body_.clear();
        return false;
    }
    body_.append(data, size);
    return true;
}

MirrorAnswer::Released MirrorAnswer::release() {
    holding_ = false;
    Released out{status_, std::move(reason_), std::move(headers_), std::move(body_)};
    if (auto rewritten = rewrite_json_urls(out.body, links_))
        out.body = std::move(*rewritten);
    else
        spdlog::warn("mirror: a JSON answer that does not parse is sent unrewritten");
    policy::remove_header(out.headers, "content-length");
    policy::remove_header(out.headers, "transfer-encoding");
    out.headers.push_back({"Content-Length", std::to_string(out.body.size())});
    return out;
}

}  // namespace proxy
