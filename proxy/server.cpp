#include "proxy/server.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "proxy/admin/metrics.h"
#include "proxy/client/client_connection.h"
#include "proxy/client/proxy_auth.h"
#include "proxy/fetch/fetch_registry.h"
#include "proxy/loop/curl_multi.h"
#include "proxy/loop/socket_address.h"
#include "proxy/tls/tls_session.h"
#include "proxy/upstream/host_health.h"
#include "proxy/upstream/upstream_route.h"

namespace proxy {

Server::Server(uv_loop_t* loop, const Config& config, cache::Store* store)
    : loop_(loop),
      config_(config),
      curl_(new CurlMulti(loop)),
      access_log_(config.access_log, access_log_format_from_string(config.access_log_format)
                                         .value_or(AccessLogFormat::Native)),
      upstream_route_(std::make_shared<const UpstreamRoute>(config_)) {
    if (store) fetches_ = std::make_unique<FetchRegistry>(loop_, *curl_, *store, config_);
    for (const auto& text : config_.key_rule)
        if (auto rule = policy::parse_key_rule(text)) key_rules_.push_back(std::move(*rule));
    host_health().configure(loop_, breaker_config_from(config_));
    uv_tcp_init(loop_, &listener_);
    listener_.data = this;
    uv_timer_init(loop_, &grace_timer_);
    grace_timer_.data = this;
}

Server::~Server() = default;

void Server::apply_config(const Config& next) {
    config_ = next;  // FetchRegistry reads it through a reference
    reload_proxy_auth();
    if (fetches_) fetches_->on_config_changed();
    host_health().configure(loop_, breaker_config_from(config_));
}

// The htpasswd file is read again on every reload (users added or removed); a file that does
// not parse keeps the running table, and the running file name with it.
void Server::reload_proxy_auth() {
    if (config_.auth_basic.empty()) {
        if (proxy_auth_) spdlog::warn("reload: proxy authentication is now off");
        proxy_auth_.reset();
        return;
    }
    auto table = ProxyAuth::load(config_.auth_basic);
    if (!table) {
        spdlog::error("reload: {}; keeping the running proxy authentication", table.error());
        config_.auth_basic = auth_basic_file_;
        return;
    }
    spdlog::info("reload: proxy authentication: {} user(s) from {}", table->entries.size(),
                 config_.auth_basic);
    auth_basic_file_ = config_.auth_basic;
    if (proxy_auth_)
        proxy_auth_->replace(std::move(*table));
    else
        proxy_auth_ = std::make_unique<ProxyAuth>(loop_, std::move(*table));
}

namespace {

std::string read_text(const std::string& path, const char* what) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error(std::string(what) + ": cannot read '" + path + "'");
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace

void Server::setup_tls() {
    if (!config_.upstream_ca_file.empty()) {
        // CURLOPT_CAINFO_BLOB replaces the default CA file, so the system store goes first and
        // the extra CAs are added to it, never substituted for it.
        std::string extra = read_text(config_.upstream_ca_file, "upstream-ca-file");
        if (extra.find("-----BEGIN CERTIFICATE-----") == std::string::npos)
            throw std::runtime_error("upstream-ca-file: '" + config_.upstream_ca_file +
                                     "' holds no PEM certificate");
        std::string bundle;
        std::ifstream system(tls::system_ca_file(), std::ios::binary);
        if (system) {
            std::stringstream text;
            text << system.rdbuf();
            bundle = text.str();
            if (!bundle.empty() && bundle.back() != '\n') bundle += '\n';
        }
        upstream_ca_bundle_ = std::make_shared<const std::string>(bundle + extra);
        spdlog::info("origins are verified against the system store and {}",
                     config_.upstream_ca_file);
    }
    if (config_.intercept.empty()) return;
    const std::string dir = tls::effective_ca_dir(config_.cache_dir, config_.ca_dir);
    try {
        bool created = false;
        auto ca = tls::CertificateAuthority::load(dir, true, &created);
        if (created)
            spdlog::warn(
                "created a new interception CA in {}: clients must trust {} (see "
                "`dlproxyctl ca show`)",
                dir, ca->paths().cert);
        spdlog::info("intercepting HTTPS to {} host pattern(s) with CA {} ({})",
                     config_.intercept.size(), ca->subject(), ca->paths().cert);
        tls_ = std::make_unique<tls::TlsServerContext>(std::move(ca));
    } catch (const tls::CaError& e) {
        throw std::runtime_error(std::string("interception CA: ") + e.what());
    }
}

void Server::log_upstream_route() const {
    for (const auto& entry : config_.resolve)
        spdlog::info("upstream: --resolve {}", entry);
    for (const auto& entry : config_.connect_to)
        spdlog::info("upstream: --connect-to {}", entry);
    if (!upstream_route_->has_parent()) return;
    spdlog::info("upstream: every request goes through the parent proxy {}{}",
                 upstream_route_->parent_for_log(),
                 config_.upstream_no_proxy.empty() ? "" : " except " + config_.upstream_no_proxy);
    if (!upstream_route_->parent_carries_tunnels())
        spdlog::warn(
            "upstream: CONNECT tunnels that are not intercepted go direct, not through {}: "
            "dlproxy tunnels through http:// parents only",
            upstream_route_->parent_for_log());
}

void Server::start() {
    setup_tls();
    if (!config_.auth_basic.empty()) {
        auto table = ProxyAuth::load(config_.auth_basic);
        if (!table) throw std::runtime_error(table.error());
        spdlog::info("proxy authentication: {} user(s) from {}", table->entries.size(),
                     config_.auth_basic);
        proxy_auth_ = std::make_unique<ProxyAuth>(loop_, std::move(*table));
        auth_basic_file_ = config_.auth_basic;
    }
    log_upstream_route();
    sockaddr_storage addr{};
    const auto& l = config_.listen;
    int rc = l.ipv6_literal
                 ? uv_ip6_addr(l.host.c_str(), l.port, reinterpret_cast<sockaddr_in6*>(&addr))
                 : uv_ip4_addr(l.host.c_str(), l.port, reinterpret_cast<sockaddr_in*>(&addr));
    if (rc != 0)
        throw std::runtime_error("listen: '" + l.to_string() + "' is not an IP address and port");
    rc = uv_tcp_bind(&listener_, reinterpret_cast<sockaddr*>(&addr), 0);
    if (rc == 0)
        rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 1024, &Server::on_connection_cb);
    if (rc != 0)
        throw std::runtime_error("cannot listen on " + l.to_string() + ": " + uv_strerror(rc));
    if (auto bound = policy::parse_host_port(listen_address())) bound_listen_ = *bound;
    // A fixed, parseable line that scripts and tests wait for (port 0 → the chosen port). It is
    // printed even when the log level hides info messages.
    if (spdlog::should_log(spdlog::level::info))
        spdlog::info("listening on {}", listen_address());
    else
        std::fprintf(stderr, "listening on %s\n", listen_address().c_str());
}

std::string Server::listen_address() const {
    sockaddr_storage ss{};
    int len = sizeof ss;
    uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&ss), &len);
    return format_socket_address(reinterpret_cast<const sockaddr*>(&ss));
}

void Server::on_connection_cb(uv_stream_t* server, int status) noexcept {
    static_cast<Server*>(server->data)->on_connection(status);
}

void Server::on_connection(int status) {
    if (status < 0) {
        spdlog::warn("accept: {}", uv_strerror(status));
        return;
    }
    if (draining_) return;
    auto* conn = new ClientConnection(*this);
    connections_.insert(conn);
    metrics().client_connections.set(static_cast<int64_t>(connections_.size()));
    if (!conn->accept(reinterpret_cast<uv_stream_t*>(&listener_))) return;
    if (connections_.size() > config_.max_connections) {
        spdlog::warn("connection limit ({}) reached: refusing a client", config_.max_connections);
        conn->refuse_overloaded();
    }
}

void Server::forget_connection(ClientConnection* conn) {
    connections_.erase(conn);
    metrics().client_connections.set(static_cast<int64_t>(connections_.size()));
}

void Server::on_connection_gone() {
    if (draining_) maybe_finish_shutdown();
}

void Server::shutdown() {
    if (draining_) return;
    draining_ = true;
    spdlog::info("shutting down: {} connection(s) open, grace period {} s", connections_.size(),
                 config_.grace_period);
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
    // Copy: drain() may close (and erase) connections.
    std::vector<ClientConnection*> open(connections_.begin(), connections_.end());
    for (auto* c : open)
        c->drain();
    uv_timer_start(&grace_timer_, &Server::on_grace_timeout_cb,
                   static_cast<uint64_t>(config_.grace_period * 1000), 0);
    maybe_finish_shutdown();
}

void Server::on_grace_timeout_cb(uv_timer_t* timer) noexcept {
    auto* self = static_cast<Server*>(timer->data);
    spdlog::warn("grace period over: closing {} connection(s)", self->connections_.size());
    std::vector<ClientConnection*> open(self->connections_.begin(), self->connections_.end());
    for (auto* c : open)
        c->close("grace period over");
}

void Server::maybe_finish_shutdown() {
    if (finished_ || !connections_.empty()) return;
    finished_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&grace_timer_), nullptr);
    if (fetches_) fetches_->close_all();
    curl_->close();
    curl_ = nullptr;
}

}  // namespace proxy
