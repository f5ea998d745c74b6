// The configuration keys, each declared once. To add a setting: a member in Config (config.h),
// a line here, and a line in configs/dlproxy.toml and the README's flag table.
#include <array>

#include "proxy/config/config_codecs.h"
#include "proxy/config/config_key.h"

namespace proxy {

std::string ConfigKey::flag() const {
    std::string out = "--" + std::string(name);
    for (char& c : out)
        if (c == '_') c = '-';
    return out;
}

namespace {

using namespace codec;
using Fill = policy::BackgroundFillConfig;

// The member a key sets: Config::*M, or a member of a member; const for render and check.
template <auto... Path>
struct Member;
template <auto M>
struct Member<M> {
    template <class C>
    static auto& of(C& c) {
        return c.*M;
    }
};
template <auto M1, auto M2>
struct Member<M1, M2> {
    template <class C>
    static auto& of(C& c) {
        return (c.*M1).*M2;
    }
};

// What --help and --print-config say about a key (ConfigKey's fields of the same names).
struct Doc {
    std::string_view value_name, help, default_note = {}, empty_note = {};
};

template <class Codec, class Field>
constexpr ConfigKey key(std::string_view name, Doc text, bool secret = false) {
    ConfigKey k{name,
                Codec::arity,
                text.value_name,
                text.help,
                text.default_note,
                text.empty_note,
                [](Config& c, const toml::node& n, const std::string& w) {
                    Codec::from_toml(Field::of(c), n, w);
                },
                [](Config& c, const std::vector<std::string>& v, const std::string& w) {
                    Codec::from_flag(Field::of(c), v, w);
                },
                nullptr,
                nullptr,
                secret};
    // Optional in a codec: render (a key that is not rendered) and check (nothing to check).
    if constexpr (requires(const Config& c) { Codec::render(Field::of(c)); })
        k.render = [](const Config& c) { return Codec::render(Field::of(c)); };
    if constexpr (requires(const Config& c) { Codec::check(Field::of(c), std::string()); })
        k.check = [](const Config& c, const std::string& w) { Codec::check(Field::of(c), w); };
    return k;
}

constexpr uint64_t kNoMax = ~uint64_t{0};

const std::array kKeys = {
    key<Address, Member<&Config::listen>>("listen",
                                          {"ADDR:PORT", "proxy address (port 0 = any free port)"}),
    key<Address, Member<&Config::admin_listen>>("admin_listen",
                                                {"ADDR:PORT", "admin endpoint address"}),
    key<Text, Member<&Config::cache_dir>>("cache_dir", {"DIR", "cache directory"}),
    key<Text, Member<&Config::admin_token>>(
        "admin_token", {"TOKEN", "bearer token the admin API requires", "none"}, true),
    key<Size<0, kNoMax>, Member<&Config::cache_size>>(
        "cache_size", {"SIZE", "byte budget for the cache, e.g. 50GiB"}),
    key<Durability, Member<&Config::cache_sync>>(
        "cache_durability", {"MODE",
                             "sync: chunks synced before they are recorded; nosync: no syncs, "
                             "faster on slow disks, a power loss may cost recent chunks"}),
    key<Ports, Member<&Config::connect_ports>>(
        "connect_ports", {"LIST", "ports CONNECT may reach, e.g. 443,8443", "443"}),
    key<CidrList, Member<&Config::allow>>(
        "allow", {"CIDR", "client network allowed to use the proxy; repeatable", "loopback"}),
    key<LogLevel, Member<&Config::log_level>>(
        "log_level", {"LEVEL", "trace|debug|info|warn|error|critical|off"}),
    key<Text, Member<&Config::access_log>>("access_log",
                                           {"FILE", "access log file, '-' for stdout, 'off'"}),
    key<AccessLogFormatName, Member<&Config::access_log_format>>(
        "access_log_format", {"F", "native|squid|json (docs/access-log.md)"}),
    key<Text, Member<&Config::auth_basic>>(
        "auth_basic", {"FILE",
                       "htpasswd file (bcrypt or SHA-crypt hashes): clients must send Basic "
                       "Proxy-Authorization (407 otherwise)",
                       "", "no proxy authentication"}),
    key<Size<4096, kNoMax>, Member<&Config::high_water_mark>>(
        "high_water_mark", {"SIZE", "bytes queued per peer before pausing"}),
    key<Size<1024, kNoMax>, Member<&Config::max_header_size>>("max_header_size",
                                                              {"SIZE", "request header limit"}),
    key<Count<1, 1000000>, Member<&Config::max_connections>>("max_connections",
                                                             {"N", "client connection cap"}),
    key<Seconds, Member<&Config::upstream_header_timeout>>(
        "upstream_header_timeout", {"SECONDS", "wait this long for origin headers"}),
    key<Seconds, Member<&Config::connect_timeout>>("connect_timeout",
                                                   {"SECONDS", "connecting to an origin"}),
    key<Seconds, Member<&Config::client_header_timeout>>(
        "client_header_timeout", {"SECONDS", "a client has this long to send its headers"}),
    key<Seconds, Member<&Config::keepalive_timeout>>("keepalive_timeout",
                                                     {"SECONDS", "idle client keep-alive"}),
    key<Seconds, Member<&Config::grace_period>>(
        "grace_period", {"SECONDS", "in-flight transfers get this long on SIGTERM"}),
    key<Seconds, Member<&Config::stall_timeout>>(
        "stall_timeout",
        {"SECONDS", "no origin bytes this long: reconnect (the most a stall takes)"}),
    key<Seconds, Member<&Config::stall_floor>>(
        "stall_floor", {"SECONDS", "a fast transfer is stalled after this long without bytes"}),
    key<Count<0, 1000>, Member<&Config::breaker_failures>>(
        "breaker_failures", {"N", "failures to reach an origin that open its breaker (0: off)"}),
    key<Seconds, Member<&Config::breaker_window>>(
        "breaker_window", {"SECONDS", "breaker_failures count within this window"}),
    key<Seconds, Member<&Config::breaker_open>>(
        "breaker_open", {"SECONDS", "an open breaker refuses new requests this long, then probes"}),
    key<Seconds, Member<&Config::gap_budget>>(
        "gap_budget", {"SECONDS", "a client may wait silently this long during recovery"}),
    key<Seconds, Member<&Config::retry_base_delay>>(
        "retry_base_delay", {"SECONDS", "first backoff ceiling; doubles per attempt"}),
    key<Seconds, Member<&Config::retry_max_delay>>("retry_max_delay",
                                                   {"SECONDS", "backoff ceiling cap"}),
    key<Count<1, 1000>, Member<&Config::retry_max_attempts>>("retry_max_attempts",
                                                             {"N", "upstream attempts per fill"}),
    key<Seconds, Member<&Config::retry_deadline>>(
        "retry_deadline", {"SECONDS", "give up a fill after retrying this long"}),
    key<Switch, Member<&Config::resume_without_validator>>(
        "resume_without_validator", {"", "resume responses without ETag/Last-Modified", "off"}),
    key<ContentSha256, Member<&Config::content_sha256_all>>(
        "content_sha256",
        {"WHICH",
         "announced: sha256 of objects whose digest was announced (and of mixed-source fills); "
         "all: of every complete object"}),
    key<Offline, Member<&Config::offline_answers>>(
        "offline_answers",
        {"MODE",
         "answer a resolve URL whose verified content is cached when its origin cannot be "
         "reached: model-hosts, all or off"}),
    key<List<InterceptPattern>, Member<&Config::intercept>>(
        "intercept",
        {"PATTERN",
         "decrypt CONNECTs to hosts matching PATTERN (host or *.domain); repeatable, replaces "
         "the default list of model hosts",
         "the model hosts", "interception off"}),
    key<NoIntercept, Member<&Config::intercept>>("no_intercept",
                                                 {"", "tunnel every CONNECT untouched", "off"}),
    key<Text, Member<&Config::ca_dir>>(
        "ca_dir", {"DIR", "interception CA directory", "<cache-dir>/ca", "<cache_dir>/ca"}),
    key<Text, Member<&Config::upstream_ca_file>>(
        "upstream_ca_file",
        {"FILE", "extra PEM CA file trusted for origins, besides the system store", "none"}),
    key<List<KeyRuleItem>, Member<&Config::key_rule>>(
        "key_rule",
        {"RULE",
         "cache-key rule 'PATTERN = NAME, NAME*': drop these query parameters from the key of "
         "matching hosts' URLs (signed URLs); repeatable, replaces the default list",
         "the model hosts' signature parameters", "no rules"}),
    key<List<HostPatternItem>, Member<&Config::stale_if_error>>(
        "stale_if_error",
        {"PATTERN",
         "serve a complete object stale when its revalidation fails, for hosts matching PATTERN "
         "(host, *.domain or * for all); repeatable, replaces the default list",
         "the model hosts", "never"}),
    key<List<HostPatternItem>, Member<&Config::stale_if_disconnected>>(
        "stale_if_disconnected",
        {"PATTERN",
         "serve a complete object stale when its revalidation gets no answer (refused, reset, "
         "timed out), for hosts matching PATTERN (host, *.domain or * for all); repeatable, "
         "replaces the default list",
         "every host", "never"}),
    key<List<FallbackSourceItem>, Member<&Config::fallback_source>>(
        "fallback_source",
        {"'HOST = URL'",
         "when a fill from HOST fails (retries spent, breaker open), continue it from URL + the "
         "same path, only if that source proves the same content; repeatable",
         "none"}),
    key<List<InterceptPattern>, Member<&Config::signed_range_hosts>>(
        "signed_range_hosts",
        {"PATTERN",
         "hosts whose URLs sign the Range header: forwarded exactly, never cached (host or "
         "*.domain); repeatable, replaces the default",
         "the Xet transfer hosts", "none"}),
    key<List<InterceptPattern>, Member<&Config::xorb_cache_hosts>>(
        "xorb_cache_hosts",
        {"PATTERN",
         "hosts whose Xet xorb ranges are stored by xorb hash and served from the cache (host or "
         "*.domain); repeatable, replaces the default; [] turns it off",
         "the Xet transfer hosts", "none"}),
    key<MirrorOrigin, Member<&Config::mirror, &policy::MirrorSites::origin>>(
        "mirror_origin",
        {"HOST",
         "mirror mode: origin-form requests addressed to this proxy go to https://HOST ('' = "
         "off)"}),
    key<List<InterceptPattern>, Member<&Config::mirror, &policy::MirrorSites::hosts>>(
        "mirror_hosts",
        {"PATTERN",
         "mirror mode: hosts reachable as /_mirror/HOST/ and onto which redirects and Xet URLs "
         "are rewritten (host or *.domain); repeatable, replaces the default",
         "the model hosts", "none"}),
    key<List<InterceptPattern>, Member<&Config::mirror_names>>(
        "mirror_names",
        {"PATTERN",
         "mirror mode: Host names that address this proxy besides its listen address and "
         "localhost, e.g. a LAN name (host or *.domain); repeatable",
         "none"}),
    key<FillMode, Member<&Config::background_fill, &Fill::mode>>(
        "background_fill", {"MODE", "a fill whose clients have all gone: always|never|threshold"}),
    key<Percent, Member<&Config::background_fill, &Fill::min_percent>>(
        "background_fill_min_percent", {"PERCENT", "threshold: continue when this % is present"}),
    key<Size<0, kNoMax>, Member<&Config::background_fill, &Fill::max_remaining>>(
        "background_fill_max_remaining",
        {"SIZE", "threshold: continue when at most this much remains"}),
    key<Count<0, 100000>, Member<&Config::background_fill, &Fill::max_fills>>(
        "max_background_fills",
        {"N", "fills running without clients at once; the newest beyond stops"}),
    key<Size<0, kNoMax>, Member<&Config::range_wait_distance>>(
        "range_wait_distance", {"SIZE",
                                "a Range this far or less ahead of the fill waits for it; "
                                "further ahead it is fetched separately"}),
    key<Count<0, 64>, Member<&Config::max_range_fetches>>(
        "max_range_fetches",
        {"N", "separate upstream range fetches per object at once (0: always wait for the fill)"}),
    key<Size<0, (1ull << 30)>, Member<&Config::fill_ahead_window>>(
        "fill_ahead_window", {"SIZE",
                              "how far a fill may run ahead of its furthest client, in memory "
                              "(0: the origin's pace)"}),
    key<Size<0, kNoMax>, Member<&Config::memory_budget>>(
        "memory_budget",
        {"SIZE", "body bytes all fills and their clients may hold in memory (0: no budget)"}),
    key<List<ResolveItem>, Member<&Config::resolve>>(
        "resolve",
        {"HOST:PORT:ADDR",
         "connect to ADDR (IP, [IPv6], or a list ADDR,ADDR) for HOST:PORT without DNS, as curl "
         "--resolve; repeatable",
         "none"}),
    key<List<ConnectToItem>, Member<&Config::connect_to>>(
        "connect_to",
        {"HOST:PORT:HOST2:PORT2",
         "connect to HOST2:PORT2 for requests to HOST:PORT (TLS still checks HOST), as curl "
         "--connect-to; repeatable",
         "none"}),
    key<Checked<ProxyUrlItem>, Member<&Config::upstream_proxy>>(
        "upstream_proxy",
        {"URL", "parent proxy for every upstream request: http://, https://, socks5://, socks5h://",
         "none: direct"}),
    key<Checked<NoProxyItem>, Member<&Config::upstream_no_proxy>>(
        "upstream_no_proxy",
        {"LIST", "hosts and domains reached directly, not through the parent: a,b,.c or *",
         "none"}),
};

}  // namespace

std::span<const ConfigKey> config_keys() {
    return kKeys;
}

}  // namespace proxy
