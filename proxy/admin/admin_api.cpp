#include "proxy/admin/admin_api.h"

#include <nlohmann/json.hpp>

#include <cctype>
#include <cmath>
#include <string_view>

#include "policy/byte_size.h"
#include "policy/http_date.h"
#include "proxy/admin/status_page.h"
#include "proxy/dlproxy_version.h"
#include "proxy/upstream/host_health.h"

namespace proxy {

namespace {

using nlohmann::json;

AdminResponse json_response(const json& value) {
    AdminResponse r;
    r.content_type = "application/json";
    // Invalid UTF-8 (a URL or path from disk) is replaced rather than thrown about.
    r.body = value.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
    return r;
}

AdminResponse from_error(const AdminError& e) {
    switch (e.code) {
        case AdminErrc::NotFound:
            return AdminResponse::error(404, e.message);
        case AdminErrc::Invalid:
            return AdminResponse::error(400, e.message);
        case AdminErrc::InUse:
            return AdminResponse::error(409, e.message);
        case AdminErrc::Failed:
            break;
    }
    return AdminResponse::error(500, e.message);
}

// A JSON object body, or the 400 to answer instead. An empty body counts as {}.
std::optional<json> parse_object(const std::string& body, AdminResponse& error) {
    if (body.find_first_not_of(" \t\r\n") == std::string::npos) return json::object();
    json value = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (value.is_discarded() || !value.is_object()) {
        error = AdminResponse::error(400, "the body must be a JSON object");
        return std::nullopt;
    }
    return value;
}

// The first key of `object` not in `known`, or "".
std::string unknown_key(const json& object, std::initializer_list<std::string_view> known) {
    for (const auto& [key, _] : object.items()) {
        bool found = false;
        for (auto k : known)
            found = found || key == k;
        if (!found) return key;
    }
    return "";
}

// Comparing every byte whatever the input, so response timing does not reveal a prefix.
bool constant_time_equal(std::string_view a, std::string_view b) {
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    for (size_t i = 0; i < a.size(); ++i)
        diff |= static_cast<unsigned char>(a[i] ^ b[i % (b.empty() ? 1 : b.size())]);
    return diff == 0 && !b.empty();
}

// The value of the first `token=` parameter in the target's query, %XX decoded; nullopt when
// there is none or it is malformed.
std::optional<std::string> query_token(std::string_view target) {
    auto q = target.find('?');
    if (q == std::string_view::npos) return std::nullopt;
    std::string_view query = target.substr(q + 1);
    while (!query.empty()) {
        auto amp = query.find('&');
        std::string_view param = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
        if (!param.starts_with("token=")) continue;
        std::string out;
        for (size_t i = 6; i < param.size(); ++i) {
            if (param[i] != '%') {
                out += param[i] == '+' ? ' ' : param[i];
                continue;
            }
            if (i + 2 >= param.size() || !std::isxdigit(static_cast<unsigned char>(param[i + 1])) ||
                !std::isxdigit(static_cast<unsigned char>(param[i + 2])))
                return std::nullopt;
            out += static_cast<char>(std::stoi(std::string(param.substr(i + 1, 2)), nullptr, 16));
            i += 2;
        }
        return out;
    }
    return std::nullopt;
}

AdminResponse status_page_response() {
    AdminResponse r;
    r.content_type = "text/html; charset=utf-8";
    r.body = std::string(status_page_html());
    // Everything is inline: nothing may load from anywhere, and only /events may be fetched.
    r.headers.push_back({"Content-Security-Policy",
                         "default-src 'none'; style-src 'unsafe-inline'; script-src "
                         "'unsafe-inline'; connect-src 'self'; img-src data:"});
    r.headers.push_back({"X-Content-Type-Options", "nosniff"});
    return r;
}

json config_summary(const Config& c, bool token, const std::string& listen,
                    const std::string& admin) {
    json allow = json::array();
    for (const auto& block : c.allow)
        allow.push_back(block.to_string());
    return json{{"listen", listen.empty() ? c.listen.to_string() : listen},
                {"admin_listen", admin.empty() ? c.admin_listen.to_string() : admin},
                {"cache_dir", c.cache_dir},
                {"cache_size", c.cache_size},
                {"cache_size_text", policy::format_byte_size(c.cache_size)},
                {"connect_ports", c.connect_ports},
                {"allow", allow},
                {"max_connections", c.max_connections},
                {"admin_token", token},
                {"config_file", c.config_file}};
}

}  // namespace

const char* dlproxy_version() {
    return DLPROXY_VERSION;
}

AdminResponse AdminResponse::error(int status, std::string message) {
    AdminResponse r;
    r.status = status;
    r.body = std::move(message) + "\n";
    return r;
}

AdminApi::AdminApi(const Config& config, Metrics& metrics, CacheAdmin* cache,
                   const StatusProvider& status, std::string token, double start_time)
    : config_(config),
      metrics_(metrics),
      cache_(cache),
      status_(status),
      token_(std::move(token)),
      start_time_(start_time) {}

void AdminApi::set_listen_addresses(std::string proxy, std::string admin) {
    bound_listen_ = std::move(proxy);
    bound_admin_ = std::move(admin);
}

bool AdminApi::authorized(const AdminRequest& request, std::string_view path) const {
    if (token_.empty()) return true;
    if (request.method == "GET" && (path == "/" || path == "/events")) {
        if (auto token = query_token(request.target)) return constant_time_equal(*token, token_);
    }
    constexpr std::string_view kScheme = "Bearer ";
    std::string_view value = request.authorization;
    if (value.size() < kScheme.size() ||
        !policy::iequals(value.substr(0, kScheme.size()), kScheme)) {
        return false;
    }
    return constant_time_equal(policy::trim_ows(value.substr(kScheme.size())), token_);
}

AdminResponse AdminApi::handle(const AdminRequest& request, double now) {
    AdminReply reply = route(request, now);
    return reply.blocking ? reply.blocking() : std::move(reply.response);
}

AdminReply AdminApi::route(const AdminRequest& request, double now) {
    if (!policy::address_allowed(config_.allow, request.peer)) {
        return AdminResponse::error(403, "forbidden: this address may not use the admin API");
    }
    std::string_view path = request.target;
    path = path.substr(0, path.find('?'));
    if (!authorized(request, path)) {
        auto r = AdminResponse::error(401, "unauthorized: a valid bearer token is required");
        r.headers.push_back({"WWW-Authenticate", "Bearer realm=\"dlproxy\""});
        return r;
    }

    struct Route {
        std::string_view path;
        std::string_view method;
    };
    static constexpr Route kRoutes[] = {
        {"/", "GET"},         {"/events", "GET"},       {"/metrics", "GET"},
        {"/status", "GET"},   {"/cache/evict", "POST"}, {"/cache/purge", "POST"},
        {"/cache/gc", "POST"}};
    const Route* route = nullptr;
    for (const auto& r : kRoutes)
        if (r.path == path) route = &r;
    if (route == nullptr) return AdminResponse::error(404, "not found: " + std::string(path));
    // HEAD is GET without a body (RFC 9110 §9.3.2); AdminServer drops the body.
    bool head = request.method == "HEAD" && route->method == "GET";
    if (request.method != route->method && !head) {
        auto r = AdminResponse::error(405, "method not allowed: " + std::string(path) + " takes " +
                                               std::string(route->method));
        r.headers.push_back({"Allow", route->method == "GET" ? "GET, HEAD" : "POST"});
        return r;
    }
    if (path == "/") return status_page_response();
    if (path == "/events") {
        AdminResponse r;  // HEAD: the head alone, like any GET route
        r.content_type = "text/event-stream; charset=utf-8";
        r.event_stream = !head;
        return r;
    }
    if (path == "/metrics") return metrics_page();
    if (path == "/status") return status_page(now);
    if (cache_ == nullptr) return AdminResponse::error(503, "no cache is open");
    if (path == "/cache/evict") return evict(request.body);
    if (path == "/cache/purge") return purge(request.body, now);
    return gc();
}

AdminResponse AdminApi::metrics_page() {
    // The cache totals live in the index; refresh the gauges from it so a scrape is current even
    // where the request path has not updated them.
    if (cache_ != nullptr) {
        if (auto stats = cache_->stats()) {
            metrics_.cache_bytes.set(static_cast<int64_t>(stats->bytes_present));
            metrics_.cache_objects.set(static_cast<int64_t>(stats->objects));
        }
    }
    metrics_.inflight_fills.set(static_cast<int64_t>(status_.inflight_fills().size()));
    const MemoryStatus memory = status_.memory();
    metrics_.memory_budget.set(static_cast<int64_t>(memory.budget));
    metrics_.memory_in_use_fills.set(static_cast<int64_t>(memory.fills));
    metrics_.memory_in_use_reads.set(static_cast<int64_t>(memory.reads));
    metrics_.memory_pressure.set(memory.pressure ? 1 : 0);
    metrics_.memory_pressure_episodes.set(static_cast<int64_t>(memory.pressure_episodes));
    AdminResponse r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = metrics_.render_prometheus();
    return r;
}

AdminResponse AdminApi::status_page(double now) const {
    json fills = json::array();
    for (const auto& f : status_.inflight_fills()) {
        fills.push_back({{"url", f.url},
                         {"key", f.key},
                         {"bytes_done", f.bytes_done},
                         {"total", f.total ? json(*f.total) : json(nullptr)},
                         {"rate_bytes_per_s", f.rate_bytes_per_s},
                         {"attempts", f.attempts},
                         {"memory_bytes", f.memory_bytes},
                         {"state", f.state},
                         {"fallback_source", f.fallback_source}});
    }
    json cache = nullptr;
    if (cache_ != nullptr) {
        if (auto s = cache_->stats()) {
            cache = {{"objects", s->objects},
                     {"complete_objects", s->complete_objects},
                     {"partial_objects", s->partial_objects},
                     {"bytes_present", s->bytes_present}};
        }
    }
    const MemoryStatus m = status_.memory();
    json memory = {{"budget", m.budget},
                   {"in_use", m.in_use},
                   {"fills", m.fills},
                   {"reads", m.reads},
                   {"peak", m.peak},
                   {"pressure", m.pressure},
                   {"pressure_episodes", m.pressure_episodes}};
    json hosts = json::array();
    for (const auto& h : host_health().hosts())
        hosts.push_back({{"origin", h.origin},
                         {"state", h.state},
                         {"recent_failures", h.recent_failures},
                         {"failures", h.failures},
                         {"refused", h.refused},
                         {"retry_in_s", h.retry_in_s ? json(*h.retry_in_s) : json(nullptr)},
                         {"last_error", h.last_error}});
    double uptime = std::max(0.0, now - start_time_);
    // Date (RFC 9110 §6.6.1): `dlproxyctl doctor` compares its clock with it.
    auto response = json_response(
        {{"version", dlproxy_version()},
         {"uptime_seconds", std::round(uptime * 1000) / 1000},
         {"config", config_summary(config_, !token_.empty(), bound_listen_, bound_admin_)},
         {"cache", cache},
         {"memory", memory},
         {"inflight_fills", fills},
         {"hosts", hosts}});
    response.headers.push_back({"Date", policy::format_http_date(static_cast<int64_t>(now))});
    return response;
}

AdminReply AdminApi::evict(const std::string& body) {
    AdminResponse error;
    auto request = parse_object(body, error);
    if (!request) return error;
    if (auto key = unknown_key(*request, {"url", "id"}); !key.empty())
        return AdminResponse::error(400, "unknown field '" + key + "' (expected url or id)");
    bool has_url = request->contains("url"), has_id = request->contains("id");
    if (has_url == has_id) return AdminResponse::error(400, "give exactly one of url and id");
    const json& target = has_url ? (*request)["url"] : (*request)["id"];
    if (!target.is_string() || target.get_ref<const std::string&>().empty())
        return AdminResponse::error(
            400, std::string(has_url ? "url" : "id") + " must be a non-empty string");
    const auto& text = target.get_ref<const std::string&>();
    if (has_id && !looks_like_object_id(text))
        return AdminResponse::error(400, "id must be 32 hex digits");
    return AdminReply([admin = cache_->for_worker(), text] {
        auto removed = admin->evict(text);
        if (!removed) return from_error(removed.error());
        return json_response({{"evicted", removed->objects}, {"bytes_freed", removed->bytes}});
    });
}

AdminReply AdminApi::purge(const std::string& body, double now) {
    AdminResponse error;
    auto request = parse_object(body, error);
    if (!request) return error;
    if (auto key = unknown_key(*request, {"all", "older_than_seconds", "partial"}); !key.empty())
        return AdminResponse::error(
            400, "unknown field '" + key + "' (expected all, older_than_seconds or partial)");
    PurgeFilter filter;
    auto flag = [&](const char* name, bool& out) {
        if (!request->contains(name)) return true;
        if (!(*request)[name].is_boolean()) return false;
        out = (*request)[name].get<bool>();
        return true;
    };
    if (!flag("all", filter.all)) return AdminResponse::error(400, "all must be true or false");
    if (!flag("partial", filter.partial))
        return AdminResponse::error(400, "partial must be true or false");
    if (request->contains("older_than_seconds")) {
        // 1e15 s is 30 million years: anything larger is a mistake, and would overflow int64.
        const json& n = (*request)["older_than_seconds"];
        if (!n.is_number() || !(n.get<double>() >= 0 && n.get<double>() <= 1e15))
            return AdminResponse::error(400, "older_than_seconds must be a number of seconds >= 0");
        filter.older_than_seconds = static_cast<int64_t>(n.get<double>());
    }
    if (filter.all && (filter.partial || filter.older_than_seconds))
        return AdminResponse::error(400, "all cannot be combined with other filters");
    if (filter.empty()) return AdminResponse::error(400, "give all, older_than_seconds or partial");
    return AdminReply([admin = cache_->for_worker(), filter, now] {
        auto removed = admin->purge(filter, static_cast<int64_t>(now));
        if (!removed) return from_error(removed.error());
        return json_response({{"purged", removed->objects}, {"bytes_freed", removed->bytes}});
    });
}

AdminReply AdminApi::gc() {
    return AdminReply([admin = cache_->for_worker()] {
        auto report = admin->gc();
        if (!report) return from_error(report.error());
        return json_response({{"objects_removed", report->objects_removed},
                              {"bytes_freed", report->bytes_freed},
                              {"orphan_files_removed", report->orphan_files_removed},
                              {"bytes_present", report->bytes_present}});
    });
}

}  // namespace proxy
