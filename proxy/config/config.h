// dlproxy's configuration: embedded defaults, overridden by a TOML file (--config), overridden by
// command-line flags. Every flag is also a config key of the same name with '_' for '-'; the keys
// are declared once, in the table of proxy/config/config_keys.cpp (proxy/config/config_key.h), from
// which the TOML reader, --print-config and the flags are generated.
//
// Loading may throw ConfigError (start-up code only); main() prints its message and exits 2.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "policy/address_list.h"
#include "policy/background_fill.h"
#include "policy/exact_forward.h"
#include "policy/intercept.h"
#include "policy/mirror.h"
#include "policy/request_target.h"

namespace proxy {

enum class OfflineAnswers { Off, ModelHosts, All };

struct ConfigError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// policy::default_key_rules() in the key_rule setting's text form.
std::vector<std::string> default_key_rule_texts();

struct Config {
    policy::HostPort listen{"127.0.0.1", 3128, false};
    policy::HostPort admin_listen{"127.0.0.1", 3129, false};
    std::string admin_token;  // bearer token the admin API requires; "" = none
    std::string cache_dir = "dlproxy-cache";
    uint64_t cache_size = 50ull << 30;  // bytes on disk for cached bodies
    // true ("sync"): chunk bytes are fdatasync'd before their records, records committed
    // durably: a power loss loses no recorded chunk. false ("nosync"): no syncs; a process crash
    // loses nothing, a power loss may lose recent chunks, which reads then find missing or
    // failing their checksums and fetch again (docs/cache-format.md "Durability").
    bool cache_sync = true;
    std::vector<uint16_t> connect_ports{443};
    std::vector<policy::Cidr> allow = policy::loopback_only();
    std::string log_level = "info";
    std::string access_log = "-";  // "-" = standard output, "off" = none, else a file path
    std::string access_log_format = "native";  // native | squid | json (access_log.h)
    // htpasswd file (crypt(3) hashes) clients must authenticate against with Basic credentials;
    // empty = no proxy authentication (proxy/client/proxy_auth.h).
    std::string auth_basic;

    // Limits and timeouts (seconds unless stated).
    uint64_t high_water_mark = 1 << 20;   // bytes queued towards one peer before pausing the source
    uint64_t max_header_size = 64 << 10;  // request line + header section, bytes
    uint32_t max_connections = 4096;
    double upstream_header_timeout = 60;  // no response headers from the origin → 504
    double connect_timeout = 30;          // TCP connect (and TLS handshake) to the origin
    double client_header_timeout = 30;    // a client must finish its request headers in this time
    double keepalive_timeout = 120;       // idle client connection between requests
    double grace_period = 10;             // SIGTERM: let in-flight transfers finish this long

    // Upstream failures and resume (docs/recovery.md).
    // A transfer is stalled after no body byte for 10 x its typical gap between arrivals, at
    // least stall_floor and at most stall_timeout (policy/stall_watch.h); reconnect then.
    double stall_floor = 2;
    double stall_timeout = 4;
    // Per-origin circuit breaker (proxy/upstream/host_health.h): breaker_failures failures to reach
    // an origin within breaker_window open it for breaker_open (doubling while probes fail, up to
    // 2 min); 0 failures = off.
    uint32_t breaker_failures = 5;
    double breaker_window = 30;
    double breaker_open = 10;
    double gap_budget = 8;             // a client waits silently at most this long, then is closed
    double retry_base_delay = 0.25;    // first backoff ceiling; doubles per attempt (full jitter)
    double retry_max_delay = 30;       // backoff ceiling cap
    uint32_t retry_max_attempts = 20;  // transfers per fill, the first included
    double retry_deadline = 600;       // give up a fill after retrying this long
    // Resume a response that has no strong validator (ETag / Last-Modified), trusting only the
    // complete length and the overlap byte. Off: such a download is closed short on a fault.
    bool resume_without_validator = false;
    // Answer a resolve URL (a redirect that announced its content's sha256) from the cache when
    // its origin cannot be reached: "model-hosts" (the default: only the hosts `intercept`
    // decrypts by default), "all", or "off" (docs/model-hosts.md "Offline").
    OfflineAnswers offline_answers = OfflineAnswers::ModelHosts;
    // Which complete objects get a sha256 (docs/model-hosts.md "Verification"): "announced"
    // (false, the default) hashes those whose digest was announced (a sha256: key, a redirect's
    // X-Linked-Etag, Repr-Digest/Digest) and those filled from two servers; "all" (true) also
    // every other object, whose hash is then only shown (dlproxyctl, the status page), never
    // compared: SHA-256 cost 0.6 CPU s/GiB here even with the CPU's SHA extensions.
    bool content_sha256_all = false;

    // HTTPS (docs/https.md). CONNECTs to hosts matching `intercept` are decrypted with a leaf
    // certificate from the local CA and served like http requests; every other CONNECT is
    // tunnelled untouched. An empty list (--no-intercept) intercepts nothing.
    std::vector<std::string> intercept = policy::default_intercept_patterns();
    std::string ca_dir;            // the CA's directory; "" = <cache_dir>/ca
    std::string upstream_ca_file;  // PEM CAs trusted for origins besides the system store
    // Hosts whose URLs are signed for the exact Range (policy/exact_forward.h): their requests
    // are forwarded unchanged and never cached. Default: the Xet transfer hosts.
    std::vector<std::string> signed_range_hosts = policy::default_signed_range_patterns();
    // Hosts whose /xorb/<ns>/<hash> answers are stored by xorb hash and served from the cache
    // (policy/xorb_request.h, docs/huggingface.md "Xorb cache"). [] turns the xorb cache off.
    std::vector<std::string> xorb_cache_hosts = policy::default_signed_range_patterns();

    // Mirror mode (policy/mirror.h, docs/huggingface.md "Mirror mode"): origin-form requests on
    // the plain listener whose Host names this proxy (its listen address, localhost, or a name
    // matching mirror_names) are served as if sent to https://<mirror.origin>; other hosts
    // matching mirror.hosts are reached as /_mirror/<host>/. mirror.origin "" turns it off.
    policy::MirrorSites mirror{"huggingface.co", policy::default_intercept_patterns()};
    std::vector<std::string> mirror_names;

    // Cache-key rules (policy/cache_key.h, docs/model-hosts.md "Keys"): "PATTERN = NAME, ..."
    // drops those query parameters from the key of matching hosts' URLs, so every fresh signed
    // URL of one object is one key. Replaced as a whole by the setting; default: the model hosts.
    std::vector<std::string> key_rule = default_key_rule_texts();
    // Hosts (patterns as for intercept, or "*") whose complete objects are served stale when
    // their revalidation fails (RFC 9111 §4.2.4); signed URLs never are (docs/model-hosts.md).
    std::vector<std::string> stale_if_error = policy::default_intercept_patterns();
    // Hosts whose complete objects are served stale when their revalidation gets no answer at
    // all (refused, reset, timed out), the disconnected cache of RFC 9111 §4.2.4; a 5xx is
    // still passed on unless stale_if_error covers the host. Every host by default.
    std::vector<std::string> stale_if_disconnected = {"*"};
    // Fallback sources (policy/fallback_source.h, docs/recovery.md "Fallback sources"):
    // "HOST = URL" entries; a fill from HOST whose origin fails continues from URL + the same
    // path and query, for the bytes still missing, when that source proves the same content.
    std::vector<std::string> fallback_source;

    // Upstream routing (docs/operations.md), in curl's syntax, validated by
    // proxy/config/config_hosts.h: "HOST:PORT:ADDR[,ADDR]" pins a name to addresses
    // (CURLOPT_RESOLVE); "HOST:PORT:HOST2:PORT2" sends connections for HOST:PORT to HOST2:PORT2
    // (CURLOPT_CONNECT_TO). Both apply to every upstream transfer and to the CONNECT tunnels that
    // are not intercepted.
    std::vector<std::string> resolve;
    std::vector<std::string> connect_to;
    // A parent proxy for every upstream request ("" = direct): http://, https://, socks5://,
    // socks5h:// (CURLOPT_PROXY); hosts matching upstream_no_proxy go direct (CURLOPT_NOPROXY).
    std::string upstream_proxy;
    std::string upstream_no_proxy;

    // A fill whose clients have all gone (docs/many-clients.md).
    policy::BackgroundFillConfig background_fill;
    // A Range starting in a region the fill has not reached (docs/many-clients.md): waited for
    // when the fill is at most this many bytes before it, else fetched by a separate upstream
    // range request, at most max_range_fetches per object at once (0: always wait).
    uint64_t range_wait_distance = 16ull << 20;
    uint32_t max_range_fetches = 4;
    // How far a fill may run ahead of its furthest client; those bytes stay in memory
    // (policy/fill_pace.h). 0: the fill runs at the origin's pace whatever its clients do.
    uint64_t fill_ahead_window = 16ull << 20;
    // Body bytes the whole process may hold in memory for fills and their clients
    // (policy/memory_budget.h, docs/many-clients.md "Memory budget"). 0: no budget.
    uint64_t memory_budget = 256ull << 20;

    std::string config_file;  // where the settings came from ("" = embedded defaults)

    // Renders the effective configuration as TOML (what --print-config shows): every key of
    // the table, in its order; apply_toml() reads it back to the same rendering.
    std::string to_toml() const;
};

// Parses argv into a Config (reading --config FILE first when given). Returns nullopt-like
// `exit_code >= 0` when the program should exit right away (--help, --version, --print-config, or
// a usage error already reported).
struct ParsedArgs {
    Config config;
    int exit_code = -1;
};
ParsedArgs parse_args(int argc, char** argv);

// Applies a TOML document to `config` (throws ConfigError with file:line context).
void apply_toml(Config& config, const std::string& toml_text, const std::string& origin_name);

}  // namespace proxy
