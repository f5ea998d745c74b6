#include "policy/mirror.h"

#include "policy/cache_key.h"
#include "policy/intercept.h"

namespace policy {

std::string_view to_string(MirrorErrc e) {
    switch (e) {
        case MirrorErrc::Off:
            return "this is a proxy, send the absolute URL (mirror mode is off)";
        case MirrorErrc::Malformed:
            return "invalid mirror path: /<path> or /_mirror/<host>/<path>";
        case MirrorErrc::HostNotMirrored:
            return "host not mirrored (see mirror-hosts)";
    }
    return "invalid mirror request";
}

namespace {

// The target for https://<host><path>, only on port 443; host and path are checked by the
// absolute-target parser (bad bytes, userinfo, ports).
std::optional<RequestTarget> https_target(std::string_view host, std::string_view path) {
    std::string url = "https://";
    url.append(host).append(path);
    auto target = parse_absolute_target(url, true);
    if (!target || target->port != 443 || target->host.empty()) return std::nullopt;
    return std::move(*target);
}

bool mirrored_host(const MirrorSites& sites, std::string_view host) {
    return iequals(host, sites.origin) || should_intercept(sites.hosts, host);
}

}  // namespace

Result<MirrorTarget, MirrorErrc> mirror_target(const MirrorSites& sites,
                                               std::string_view request_target) {
    if (sites.origin.empty()) return fail(MirrorErrc::Off);
    if (request_target.empty() || request_target.front() != '/') return fail(MirrorErrc::Malformed);
    if (!request_target.starts_with(kMirrorPrefix)) {
        auto target = https_target(sites.origin, request_target);
        if (!target) return fail(MirrorErrc::Malformed);
        return MirrorTarget{std::move(*target), ""};
    }
    std::string_view rest = request_target.substr(kMirrorPrefix.size());
    size_t end = rest.find_first_of("/?#");
    std::string_view host = rest.substr(0, end);
    std::string_view path = end == std::string_view::npos ? "/" : rest.substr(end);
    // A port, userinfo or IPv6 literal has no place here: /_mirror/ names a host on 443.
    if (host.empty() || host.find_first_of(":@[]") != std::string_view::npos)
        return fail(MirrorErrc::Malformed);
    auto target = https_target(host, path);
    if (!target) return fail(MirrorErrc::Malformed);
    if (!mirrored_host(sites, target->host)) return fail(MirrorErrc::HostNotMirrored);
    std::string prefix(kMirrorPrefix);
    prefix.append(target->host);
    return MirrorTarget{std::move(*target), std::move(prefix)};
}

std::optional<MirrorBase> mirror_base(std::string_view host_field) {
    host_field = trim_ows(host_field);
    if (host_field.empty() || host_field.find_first_of("/?#@") != std::string_view::npos)
        return std::nullopt;
    std::string url = "http://";
    url.append(host_field);
    auto target = parse_absolute_target(url);
    if (!target || target->host.empty()) return std::nullopt;
    return MirrorBase{"http://" + target->host_header(), target->host, target->port};
}

MirrorLinks::MirrorLinks(const MirrorSites& sites, std::string base, std::string prefix)
    : sites_(sites), base_(std::move(base)), prefix_(std::move(prefix)) {}

std::optional<std::string> MirrorLinks::absolute(std::string_view url) const {
    auto target = parse_absolute_target(url, true);
    if (!target || target->scheme != "https" || target->port != 443 || target->ipv6_literal)
        return std::nullopt;
    // A bare origin ("https://cas-server.xethub.hf.co", Xet's casUrl) stays bare: clients append
    // "/v1/..." to it, and a path "/" added here would double the slash upstream.
    std::string_view after_scheme = url.substr(url.find("://") + 3);
    const bool bare = after_scheme.find_first_of("/?#") == std::string_view::npos;
    std::string_view path = bare ? std::string_view() : std::string_view(target->path);
    std::string out = base_;
    if (iequals(target->host, sites_.origin)) return out.append(path);
    if (!should_intercept(sites_.hosts, target->host)) return std::nullopt;
    out.append(kMirrorPrefix).append(target->host).append(path);
    return out;
}

std::string MirrorLinks::reference(std::string_view ref) const {
    std::string_view r = trim_ows(ref);
    if (r.starts_with("//")) {
        std::string url = "https:";
        url.append(r);
        return absolute(url).value_or(std::string(ref));
    }
    if (!r.empty() && r.front() == '/') return prefix_ + std::string(r);
    // RFC 3986 §4.2: a scheme is what precedes the first ':' when no '/', '?' or '#' comes first.
    size_t colon = r.find(':');
    if (colon != std::string_view::npos && colon < r.find_first_of("/?#"))
        return absolute(r).value_or(std::string(ref));
    return std::string(ref);  // relative to the request's own mirror URL: already right
}

std::string MirrorLinks::link_field(std::string_view value) const {
    std::string out;
    out.reserve(value.size() + 64);
    bool quoted = false;
    for (size_t i = 0; i < value.size(); ++i) {
        char c = value[i];
        if (quoted) {
            out.push_back(c);
            if (c == '\\' && i + 1 < value.size())
                out.push_back(value[++i]);
            else if (c == '"')
                quoted = false;
            continue;
        }
        if (c == '"') quoted = true;
        size_t close = c == '<' ? value.find('>', i + 1) : std::string_view::npos;
        if (close == std::string_view::npos) {
            out.push_back(c);
            continue;
        }
        out.append("<").append(reference(value.substr(i + 1, close - i - 1))).append(">");
        i = close;
    }
    return out;
}

void MirrorLinks::rewrite_headers(HeaderList& headers) const {
    for (auto& h : headers) {
        if (iequals(h.name, "location") || iequals(h.name, "content-location"))
            h.value = reference(h.value);
        else if (iequals(h.name, "link"))
            h.value = link_field(h.value);
    }
}

}  // namespace policy
