// Server: the listener, the registry of client connections, and orderly shutdown.
//
// Thread: the loop thread. One Server per process; it lives as long as the loop runs.
#pragma once

#include <uv.h>

#include <memory>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

#include "cache/store.h"
#include "policy/cache_key.h"
#include "proxy/admin/access_log.h"
#include "proxy/config/config.h"

namespace proxy {

namespace tls {
class TlsServerContext;
}

class ClientConnection;
class UpstreamRoute;
class CurlMulti;
class ProxyAuth;
class FetchRegistry;

class Server {
  public:
    // `store` may be null: then nothing is cached and every request is passed through.
    Server(uv_loop_t* loop, const Config& config, cache::Store* store);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Loads (or creates) the interception CA when interception is on and reads the extra
    // upstream CA file, then binds and listens. Throws std::runtime_error with a clear message
    // when any of that fails.
    void start();

    // Stop accepting, let in-flight transfers finish for the grace period, then close everything.
    // The loop ends once every handle is closed.
    void shutdown();

    uv_loop_t* loop() { return loop_; }
    const Config& config() const { return config_; }
    CurlMulti& curl() { return *curl_; }
    AccessLog& access_log() { return access_log_; }
    FetchRegistry* fetches() { return fetches_.get(); }
    bool draining() const { return draining_; }
    // Null when interception is off.
    tls::TlsServerContext* tls() { return tls_.get(); }
    // The CAs origins are verified against when --upstream-ca-file is set (the system store
    // followed by that file, for CURLOPT_CAINFO_BLOB); null = libcurl's default store.
    const std::shared_ptr<const std::string>& upstream_ca_bundle() const {
        return upstream_ca_bundle_;
    }

    // --resolve, --connect-to and the parent proxy, for every upstream transfer and tunnel.
    const std::shared_ptr<const UpstreamRoute>& upstream_route() const { return upstream_route_; }

    // Null when --auth-basic is not set (every allowed client may use the proxy).
    ProxyAuth* proxy_auth() { return proxy_auth_.get(); }

    // The cache-key rules of the key_rule setting, parsed once (checked when it was read).
    std::span<const policy::KeyRule> key_rules() const { return key_rules_; }

    // Bound address of the proxy listener (resolves port 0).
    std::string listen_address() const;
    // The same, parsed; set by start(). Requests addressed to it are forwarding loops.
    const policy::HostPort& bound_listen() const { return bound_listen_; }

    // A closed connection, about to be deleted, then deleted (ClientConnection::close_cb).
    void forget_connection(ClientConnection* conn);
    void on_connection_gone();

    // SIGHUP: runs with `next` from now on (proxy/config/config_reload.h decided which keys
    // changed; the restart keys in it are the running ones). Loop thread.
    void apply_config(const Config& next);

  private:
    static void on_connection_cb(uv_stream_t* server, int status) noexcept;
    static void on_grace_timeout_cb(uv_timer_t* timer) noexcept;
    void on_connection(int status);
    void maybe_finish_shutdown();
    void setup_tls();
    void log_upstream_route() const;
    void reload_proxy_auth();

    uv_loop_t* loop_;
    Config config_;
    uv_tcp_t listener_{};
    policy::HostPort bound_listen_;
    uv_timer_t grace_timer_{};
    CurlMulti* curl_;  // frees itself after close()
    AccessLog access_log_;
    std::unique_ptr<FetchRegistry> fetches_;
    std::unique_ptr<tls::TlsServerContext> tls_;
    std::unique_ptr<ProxyAuth> proxy_auth_;
    std::string auth_basic_file_;  // the file proxy_auth_ was read from
    std::shared_ptr<const std::string> upstream_ca_bundle_;
    std::shared_ptr<const UpstreamRoute> upstream_route_;
    std::vector<policy::KeyRule> key_rules_;
    std::unordered_set<ClientConnection*> connections_;
    bool draining_ = false;
    bool finished_ = false;
};

}  // namespace proxy
