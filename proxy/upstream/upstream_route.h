// UpstreamRoute: how dlproxy reaches origins — host pins (--resolve), connection redirects
// (--connect-to) and the parent proxy (--upstream-proxy, --upstream-no-proxy), built once from
// Config at start-up and shared by every upstream transfer and CONNECT tunnel
// (docs/operations.md).
//
// libcurl transfers get the settings as options (apply()); a non-intercepted CONNECT tunnel,
// which is plain TCP, asks tunnel_hop() where to connect and whether to send CONNECT to an HTTP
// parent first. Only an http:// parent carries tunnels; with an https:// or socks parent, tunnels
// go direct (said at start-up by the log; docs/operations.md).
//
// Thread: immutable after construction; read from the loop thread. Lifetime: shared (transfers
// hold a reference while libcurl may read the lists).
#pragma once

#include <curl/curl.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "policy/request_target.h"
#include "proxy/config/config.h"
#include "proxy/config/config_hosts.h"

namespace proxy {

class UpstreamRoute {
  public:
    // Throws ConfigError for an entry Config did not validate (never, after parse_args).
    explicit UpstreamRoute(const Config& config);
    ~UpstreamRoute();
    UpstreamRoute(const UpstreamRoute&) = delete;
    UpstreamRoute& operator=(const UpstreamRoute&) = delete;

    // Sets CURLOPT_RESOLVE, CURLOPT_CONNECT_TO, CURLOPT_PROXY and CURLOPT_NOPROXY. The proxy is
    // always set ("" without a parent) so that the environment's http_proxy is never used:
    // dlproxy is the proxy.
    void apply(CURL* easy) const;

    // Where a tunnel for CONNECT `target` opens its TCP connection.
    struct TunnelHop {
        std::string host;  // a name to resolve, or an IP literal
        uint16_t port = 0;
        bool numeric = false;  // `host` is an IP literal (from --resolve): no DNS lookup
        // Non-empty: `host` is the parent proxy; send "CONNECT <parent_connect>" first.
        std::string parent_connect;
        std::string parent_authorization;  // "Basic ..." from the parent URL's user:password
    };
    TunnelHop tunnel_hop(const policy::HostPort& target) const;

    bool has_parent() const { return parent_.has_value(); }
    bool parent_carries_tunnels() const { return parent_ && parent_->scheme == "http"; }
    // The parent URL without its user:password, for logs.
    std::string parent_for_log() const;

  private:
    std::vector<ResolveEntry> resolve_;
    std::vector<ConnectToEntry> connect_to_;
    std::optional<ProxyUrl> parent_;
    std::string proxy_url_;
    std::string no_proxy_text_;
    std::vector<std::string> no_proxy_;
    std::string parent_authorization_;
    curl_slist* resolve_list_ = nullptr;
    curl_slist* connect_to_list_ = nullptr;
};

}  // namespace proxy
