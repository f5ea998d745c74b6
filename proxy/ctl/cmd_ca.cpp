// dlproxyctl ca init | ca show: the local CA dlproxy signs intercepted hosts' certificates with
// (proxy/tls/certificate_authority.h, docs/https.md).
//
// `init` creates the CA (dlproxy also does on its first start with interception on); `show`
// prints where it is and how to make each kind of client trust it. Neither ever prints the key.
#include <cstdio>
#include <filesystem>
#include <memory>

#include "proxy/ctl/commands.h"
#include "proxy/tls/certificate_authority.h"

namespace ctl {

namespace {

using proxy::tls::CaError;
using proxy::tls::CertificateAuthority;

// Absolute, so that the printed recipes still work from another directory.
std::string ca_dir_of(const Context& ctx) {
    std::error_code ec;
    auto dir =
        std::filesystem::absolute(proxy::tls::effective_ca_dir(ctx.cache_dir, ctx.ca_dir), ec);
    return ec ? proxy::tls::effective_ca_dir(ctx.cache_dir, ctx.ca_dir)
              : dir.lexically_normal().string();
}

std::unique_ptr<CertificateAuthority> load_ca(const std::string& dir) {
    try {
        return CertificateAuthority::load(dir, false);
    } catch (const CaError& e) {
        throw CtlError(kProblem, e.what());
    }
}

int show(const Context& ctx, const std::string& dir) {
    auto ca = load_ca(dir);
    const auto& p = ca->paths();
    if (ctx.json) {
        print_json({{"dir", p.dir},
                    {"certificate", p.cert},
                    {"key", p.key},
                    {"bundle", p.bundle},
                    {"subject", ca->subject()},
                    {"sha256_fingerprint", ca->sha256_fingerprint()},
                    {"not_after", ca->not_after()},
                    {"proxy", ctx.proxy_url()}});
        return kOk;
    }
    std::printf(
        "dlproxy interception CA\n"
        "  directory    %s\n"
        "  certificate  %s\n"
        "  key          %s (mode 0600; never copy it anywhere)\n"
        "  bundle       %s (the system CAs followed by this CA)\n"
        "  subject      %s\n"
        "  sha256       %s\n"
        "  expires      %s\n"
        "\n"
        "Point clients at the proxy with HTTPS_PROXY=%s, then make them trust the CA:\n"
        "  Python requests (ComfyUI-Launcher, pip):  export REQUESTS_CA_BUNDLE=%s\n"
        "  curl:             curl --cacert %s ...   or  export CURL_CA_BUNDLE=%s\n"
        "  OpenSSL-based tools, httpx, huggingface_hub >= 1.0:  export SSL_CERT_FILE=%s\n"
        "  wget:             wget --ca-certificate=%s ...\n"
        "  system store (Debian/Ubuntu, as root):\n"
        "    cp %s /usr/local/share/ca-certificates/dlproxy.crt && update-ca-certificates\n"
        "Use the bundle, not ca.pem alone, where a variable replaces the client's trust store:\n"
        "with ca.pem alone every host dlproxy does not intercept would fail verification.\n",
        p.dir.c_str(), p.cert.c_str(), p.key.c_str(), p.bundle.c_str(), ca->subject().c_str(),
        ca->sha256_fingerprint().c_str(), ca->not_after().c_str(), ctx.proxy_url().c_str(),
        p.bundle.c_str(), p.bundle.c_str(), p.bundle.c_str(), p.bundle.c_str(), p.bundle.c_str(),
        p.cert.c_str());
    return kOk;
}

}  // namespace

void add_ca(CLI::App& app, Context& ctx, Runner& chosen) {
    auto* ca = app.add_subcommand("ca", "the local CA for HTTPS interception (init, show)");
    ca->require_subcommand(1);
    auto* init = ca->add_subcommand(
        "init", "create the CA (ca.key, ca.pem, bundle.pem) in --ca-dir (default <cache-dir>/ca)");
    auto force = std::make_shared<bool>(false);
    init->add_flag("--force", *force,
                   "replace an existing CA (clients must then trust the new one)");
    init->callback([&ctx, &chosen, force] {
        chosen = [&ctx, force] {
            const std::string dir = ca_dir_of(ctx);
            try {
                CertificateAuthority::create(dir, *force);
            } catch (const CaError& e) {
                throw CtlError(kProblem, e.what());
            }
            if (!ctx.json) std::printf("created a new CA in %s\n\n", dir.c_str());
            return show(ctx, dir);
        };
    });
    auto* show_cmd = ca->add_subcommand("show", "where the CA is and how to trust it per client");
    show_cmd->callback([&ctx, &chosen] { chosen = [&ctx] { return show(ctx, ca_dir_of(ctx)); }; });
}

}  // namespace ctl
