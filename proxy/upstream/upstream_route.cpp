#include "proxy/upstream/upstream_route.h"

#include <openssl/evp.h>

#include <cctype>

namespace proxy {

namespace {

template <class T>
T or_throw(policy::Result<T, std::string> result, const std::string& what,
           const std::string& text) {
    if (!result) throw ConfigError(what + ": '" + text + "': " + result.error());
    return *std::move(result);
}

std::string percent_decode(const std::string& text) {
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
        auto hex = [&](size_t j) { return std::isxdigit(static_cast<unsigned char>(text[j])); };
        if (text[i] == '%' && i + 2 < text.size() && hex(i + 1) && hex(i + 2)) {
            out += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
            i += 2;
        } else {
            out += text[i];
        }
    }
    return out;
}

// RFC 7617: "Basic " + base64(user ":" password), from the URL's percent-encoded userinfo.
std::string basic_authorization(const std::string& userinfo) {
    size_t colon = userinfo.find(':');
    std::string credentials =
        percent_decode(userinfo.substr(0, colon)) + ":" +
        (colon == std::string::npos ? "" : percent_decode(userinfo.substr(colon + 1)));
    std::string out(4 * ((credentials.size() + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(credentials.data()),
                            static_cast<int>(credentials.size()));
    out.resize(static_cast<size_t>(n));
    return "Basic " + out;
}

}  // namespace

UpstreamRoute::UpstreamRoute(const Config& config)
    : proxy_url_(config.upstream_proxy), no_proxy_text_(config.upstream_no_proxy) {
    for (const auto& text : config.resolve) {
        resolve_.push_back(or_throw(parse_resolve_entry(text), "resolve", text));
        resolve_list_ = curl_slist_append(resolve_list_, text.c_str());
    }
    for (const auto& text : config.connect_to) {
        connect_to_.push_back(or_throw(parse_connect_to_entry(text), "connect-to", text));
        connect_to_list_ = curl_slist_append(connect_to_list_, text.c_str());
    }
    if (!proxy_url_.empty()) {
        parent_ = or_throw(parse_proxy_url(proxy_url_), "upstream-proxy", proxy_url_);
        if (!parent_->userinfo.empty())
            parent_authorization_ = basic_authorization(parent_->userinfo);
    }
    no_proxy_ = or_throw(parse_no_proxy(no_proxy_text_), "upstream-no-proxy", no_proxy_text_);
}

UpstreamRoute::~UpstreamRoute() {
    curl_slist_free_all(resolve_list_);
    curl_slist_free_all(connect_to_list_);
}

void UpstreamRoute::apply(CURL* easy) const {
    if (resolve_list_) curl_easy_setopt(easy, CURLOPT_RESOLVE, resolve_list_);
    if (connect_to_list_) curl_easy_setopt(easy, CURLOPT_CONNECT_TO, connect_to_list_);
    curl_easy_setopt(easy, CURLOPT_PROXY, proxy_url_.c_str());
    curl_easy_setopt(easy, CURLOPT_NOPROXY, no_proxy_text_.c_str());
    // Through a parent, an https request starts with the parent's answer to CONNECT ("200
    // Connection established"): without this it reaches the header callback as if it were the
    // origin's response head, and the response would be judged by it (uncacheable).
    if (parent_) curl_easy_setopt(easy, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
}

UpstreamRoute::TunnelHop UpstreamRoute::tunnel_hop(const policy::HostPort& target) const {
    // --connect-to first (curl applies it before name resolution), then the parent or a pin.
    std::string host = target.host;
    uint16_t port = target.port;
    for (const auto& e : connect_to_) {
        if ((e.host.empty() || e.host == target.host) && (e.port == 0 || e.port == target.port)) {
            if (!e.to_host.empty()) host = e.to_host;
            if (e.to_port != 0) port = e.to_port;
            break;
        }
    }
    TunnelHop hop;
    hop.host = host;
    hop.port = port;
    if (parent_carries_tunnels() && !no_proxy_matches(no_proxy_, target.host)) {
        bool v6 = host.find(':') != std::string::npos;
        hop.parent_connect = (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
        hop.parent_authorization = parent_authorization_;
        hop.host = parent_->host;
        hop.port = parent_->port;
    }
    for (const auto& e : resolve_) {
        if (e.host == hop.host && e.port == hop.port) {
            // Tunnels use the first address; libcurl tries them all.
            hop.host = e.addresses.front();
            hop.numeric = true;
            break;
        }
    }
    return hop;
}

std::string UpstreamRoute::parent_for_log() const {
    if (!parent_) return "";
    bool v6 = parent_->host.find(':') != std::string::npos;
    return parent_->scheme + "://" + (v6 ? "[" + parent_->host + "]" : parent_->host) + ":" +
           std::to_string(parent_->port);
}

}  // namespace proxy
