// dlproxyctl doctor: checks that this shell and this machine are set up to download through
// dlproxy, and prints a fix for each check that fails. Exit status 0 when every check passed or
// was skipped, 1 when any failed (3 is not used: an unreachable daemon is a failed check).
//
// Checks, in order: the daemon answers on its admin port; HTTP_PROXY/HTTPS_PROXY point at it and
// NO_PROXY keeps loopback direct; the interception CA (when there is one) is trusted by Python
// requests (REQUESTS_CA_BUNDLE), curl (CURL_CA_BUNDLE, else the system store), OpenSSL-based
// clients (SSL_CERT_FILE) and the system store; a request through the proxy to a loopback origin
// (the daemon's own admin port) succeeds; the clock agrees with that response's Date header
// (or with --test-url's origin); the cache directory's free space covers the budget.
//
// "Trusted" means the trust file named contains the CA certificate (its base64 body, compared
// with line breaks removed): exact, and needs no TLS handshake.
#include <sys/statvfs.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include "policy/http_date.h"
#include "proxy/ctl/commands.h"
#include "proxy/ctl/http_client.h"
#include "proxy/loop/clock.h"
#include "proxy/tls/certificate_authority.h"

namespace ctl {

namespace {

using nlohmann::json;

enum class Verdict { Pass, Fail, Skip };

struct Check {
    explicit Check(std::string name_, Verdict verdict_ = Verdict::Pass, std::string detail_ = "",
                   std::string fix_ = "")
        : name(std::move(name_)),
          verdict(verdict_),
          detail(std::move(detail_)),
          fix(std::move(fix_)) {}

    std::string name;
    Verdict verdict;
    std::string detail;
    std::string fix;  // what to do when it failed (or how to enable a skipped check)
};

struct DoctorOptions {
    std::string test_url;  // "" = the admin endpoint's /status, through the proxy
    double max_skew = 60;
};

std::string env(const char* upper) {
    if (const char* v = std::getenv(upper); v && *v) return v;
    std::string lower(upper);
    for (auto& c : lower)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (const char* v = std::getenv(lower.c_str()); v && *v) return v;
    return "";
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return in ? s.str() : std::string();
}

std::string without_breaks(std::string text) {
    std::erase_if(text, [](char c) { return c == '\n' || c == '\r'; });
    return text;
}

// The base64 body of the first certificate in a PEM file, line breaks removed; "" if none.
std::string pem_body(const std::string& pem) {
    constexpr std::string_view kBegin = "-----BEGIN CERTIFICATE-----";
    constexpr std::string_view kEnd = "-----END CERTIFICATE-----";
    auto b = pem.find(kBegin);
    auto e = pem.find(kEnd, b == std::string::npos ? 0 : b);
    if (b == std::string::npos || e == std::string::npos) return "";
    return without_breaks(pem.substr(b + kBegin.size(), e - b - kBegin.size()));
}

// "host:port" of a proxy URL such as "http://127.0.0.1:3128/".
std::string authority_of(std::string url) {
    if (auto scheme = url.find("://"); scheme != std::string::npos) url = url.substr(scheme + 3);
    return url.substr(0, url.find('/'));
}

Check proxy_variables(const Context& ctx) {
    Check c{"proxy variables"};
    std::vector<std::string> wrong;
    for (const char* name : {"HTTP_PROXY", "HTTPS_PROXY"}) {
        std::string v = env(name);
        if (v.empty())
            wrong.push_back(std::string(name) + " is not set");
        else if (authority_of(v) != ctx.listen)
            wrong.push_back(std::string(name) + "=" + v + " is not dlproxy (" + ctx.listen + ")");
    }
    std::string no_proxy = env("NO_PROXY");
    bool loopback_direct = no_proxy.find("127.0.0.1") != std::string::npos &&
                           no_proxy.find("localhost") != std::string::npos;
    if (!loopback_direct) wrong.push_back("NO_PROXY does not list localhost and 127.0.0.1");
    if (wrong.empty()) {
        c.detail = "HTTP_PROXY and HTTPS_PROXY point at " + ctx.listen + "; NO_PROXY=" + no_proxy;
        return c;
    }
    c.verdict = Verdict::Fail;
    for (const auto& w : wrong)
        c.detail += (c.detail.empty() ? "" : "; ") + w;
    c.fix = "export HTTP_PROXY=" + ctx.proxy_url() + " HTTPS_PROXY=" + ctx.proxy_url() +
            " http_proxy=" + ctx.proxy_url() + " https_proxy=" + ctx.proxy_url() +
            " NO_PROXY=localhost,127.0.0.1,::1 no_proxy=localhost,127.0.0.1,::1";
    return c;
}

// One trust file: does it hold the CA? `variable` is the one to set, "" for the system store.
Check trust(const std::string& name, const std::string& file, const std::string& ca_body,
            const std::string& variable, const proxy::tls::CaPaths& paths) {
    Check c{name};
    std::string text = file.empty() ? "" : read_file(file);
    if (!file.empty() && without_breaks(text).find(ca_body) != std::string::npos) {
        c.detail = "the CA is in " + file;
        return c;
    }
    c.verdict = Verdict::Fail;
    c.detail = file.empty()   ? variable + " is not set"
               : text.empty() ? file + " cannot be read"
                              : file + " does not contain the dlproxy CA";
    c.fix = variable.empty()
                ? "as root: cp " + paths.cert +
                      " /usr/local/share/ca-certificates/dlproxy.crt && "
                      "update-ca-certificates"
                : "export " + variable + "=" + paths.bundle + "   (the system CAs plus dlproxy's)";
    return c;
}

std::vector<Check> ca_checks(const Context& ctx) {
    // Absolute, so that the printed fixes work from any directory.
    std::error_code ec;
    auto dir =
        std::filesystem::absolute(proxy::tls::effective_ca_dir(ctx.cache_dir, ctx.ca_dir), ec);
    auto paths = proxy::tls::ca_paths(dir.lexically_normal().string());
    std::string body = pem_body(read_file(paths.cert));
    if (body.empty()) {
        std::vector<Check> skipped;
        skipped.emplace_back(
            "CA trust", Verdict::Skip, "no interception CA at " + paths.cert,
            "only needed for HTTPS interception: dlproxyctl ca init, then run doctor again");
        return skipped;
    }
    std::string system = proxy::tls::system_ca_file();
    std::string curl = env("CURL_CA_BUNDLE");
    std::vector<Check> checks;
    checks.push_back(trust("CA trusted by Python requests", env("REQUESTS_CA_BUNDLE"), body,
                           "REQUESTS_CA_BUNDLE", paths));
    checks.push_back(
        trust("CA trusted by curl", curl.empty() ? system : curl, body, "CURL_CA_BUNDLE", paths));
    checks.push_back(trust("CA trusted by OpenSSL (SSL_CERT_FILE)", env("SSL_CERT_FILE"), body,
                           "SSL_CERT_FILE", paths));
    checks.push_back(trust("CA in the system store", system, body, "", paths));
    return checks;
}

Check disk_space(const Context& ctx, uint64_t bytes_present) {
    Check c{"free disk for the cache"};
    struct statvfs vfs {};
    std::string dir = std::filesystem::exists(ctx.cache_dir) ? ctx.cache_dir : ".";
    if (statvfs(dir.c_str(), &vfs) != 0) {
        c.verdict = Verdict::Skip;
        c.detail = "cannot read the free space of " + dir;
        return c;
    }
    uint64_t free_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
    uint64_t room = free_bytes + bytes_present;
    c.detail = human_size(free_bytes) + " free in " + dir + ", " + human_size(bytes_present) +
               " cached, budget " + human_size(ctx.cache_size);
    if (room < ctx.cache_size) {
        c.verdict = Verdict::Fail;
        c.fix = "free space, or lower cache_size to at most " + human_size(room) +
                " (--cache-size / cache_size in the config)";
    }
    return c;
}

std::vector<Check> run_checks(const Context& ctx, const DoctorOptions& options) {
    std::vector<Check> checks;
    AdminClient admin(ctx.effective_admin_url(), ctx.admin_token);
    HttpReply status = admin.get("/status", 5000);
    uint64_t bytes_present = 0;
    Check reach{"dlproxy reachable"};
    if (status.answered() && status.status == 200) {
        json doc = json::parse(status.body, nullptr, false);
        reach.detail = "dlproxy " + (doc.is_object() ? doc.value("version", "?") : "?") + " at " +
                       admin.base_url();
        if (doc.is_object() && doc["cache"].is_object())
            bytes_present = doc["cache"].value("bytes_present", uint64_t{0});
    } else {
        reach.verdict = Verdict::Fail;
        reach.detail = status.answered()
                           ? admin.base_url() + " answered " + std::to_string(status.status)
                           : "nothing answers at " + admin.base_url() + " (" + status.error + ")";
        reach.fix = status.answered() && status.status == 401
                        ? "give --admin-token or set DLPROXY_ADMIN_TOKEN"
                        : "start dlproxy (scripts/bootstrap run, or dlproxy --config FILE), or "
                          "give --admin / --config to say where it listens";
    }
    checks.push_back(reach);
    checks.push_back(proxy_variables(ctx));
    for (auto& c : ca_checks(ctx))
        checks.push_back(std::move(c));

    HttpRequest through;
    through.url = options.test_url.empty() ? admin.base_url() + "/status" : options.test_url;
    through.proxy = ctx.proxy_url();
    through.timeout_ms = 15000;
    if (options.test_url.empty() && !ctx.admin_token.empty())
        through.headers.push_back("Authorization: Bearer " + ctx.admin_token);
    HttpReply reply = perform(through);
    Check request{"request through the proxy"};
    if (reply.answered() && reply.status >= 200 && reply.status < 400) {
        request.detail =
            "GET " + through.url + " via " + ctx.listen + ": " + std::to_string(reply.status);
    } else {
        request.verdict = Verdict::Fail;
        request.detail =
            "GET " + through.url + " via " + ctx.listen + ": " +
            (reply.answered() ? std::to_string(reply.status) + " " + first_line(reply.body)
                              : reply.error);
        request.fix = "check that dlproxy listens on " + ctx.listen +
                      " (--listen) and that its allow list admits this machine";
    }
    checks.push_back(request);

    Check clock{"clock"};
    std::optional<int64_t> when;
    if (auto date = policy::find_header(reply.headers, "Date"); reply.answered() && date)
        if (auto t = policy::parse_http_date(*date)) when = *t;
    if (!when) {
        clock.verdict = Verdict::Skip;
        clock.detail = "no Date header to compare with";
        clock.fix = "give --test-url https://<a model host>/ to compare with a real origin";
    } else {
        double skew = static_cast<double>(proxy::wall_seconds() - *when);
        clock.detail = "this machine is " + std::to_string(static_cast<long long>(skew)) +
                       " s from " + through.url + "'s Date";
        if (std::fabs(skew) > options.max_skew) {
            clock.verdict = Verdict::Fail;
            clock.fix =
                "synchronise the clock (systemd-timesyncd, chrony or ntpdate): "
                "freshness and certificate checks depend on it";
        }
    }
    checks.push_back(clock);
    checks.push_back(disk_space(ctx, bytes_present));
    return checks;
}

int run_doctor(const Context& ctx, const DoctorOptions& options) {
    auto checks = run_checks(ctx, options);
    bool failed = false;
    json out = json::array();
    for (const auto& c : checks) {
        failed = failed || c.verdict == Verdict::Fail;
        const char* word = c.verdict == Verdict::Pass   ? "ok"
                           : c.verdict == Verdict::Fail ? "FAIL"
                                                        : "skip";
        if (ctx.json) {
            out.push_back({{"check", c.name},
                           {"result", word},
                           {"detail", c.detail},
                           {"fix", c.verdict == Verdict::Pass ? json(nullptr) : json(c.fix)}});
            continue;
        }
        std::printf("%-4s  %s: %s\n", word, c.name.c_str(), c.detail.c_str());
        if (c.verdict != Verdict::Pass && !c.fix.empty())
            std::printf("      fix: %s\n", c.fix.c_str());
    }
    if (ctx.json)
        print_json({{"passed", !failed}, {"checks", out}});
    else
        std::printf("\n%s\n", failed ? "Some checks failed: apply the fixes above and run "
                                       "dlproxyctl doctor again."
                                     : "All checks passed.");
    return failed ? kProblem : kOk;
}

}  // namespace

void add_doctor(CLI::App& app, Context& ctx, Runner& chosen) {
    auto options = std::make_shared<DoctorOptions>();
    auto* cmd = app.add_subcommand(
        "doctor",
        "Check this shell and machine for downloading through dlproxy (proxy variables, CA "
        "trust, a test request, clock, disk); prints a fix for each failed check");
    cmd->add_option("--test-url", options->test_url,
                    "URL to request through the proxy (default: the admin endpoint's /status)");
    cmd->add_option("--max-skew", options->max_skew, "seconds of clock skew tolerated (60)");
    cmd->callback([&ctx, &chosen, options] {
        chosen = [&ctx, options] { return run_doctor(ctx, *options); };
    });
}

}  // namespace ctl
