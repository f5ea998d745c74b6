#include "proxy/client/proxy_auth.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <sstream>

#include "proxy/loop/worker.h"

namespace proxy {

namespace {

std::string sha256_of(std::string_view text) {
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), md);
    return std::string(reinterpret_cast<const char*>(md), sizeof md);
}

// A user name as the log shows it: printable ASCII only, at most 64 characters.
std::string loggable(std::string_view user) {
    std::string out;
    for (char c : user.substr(0, 64))
        out += (c >= 0x20 && c < 0x7f) ? c : '?';
    return out;
}

// What a worker computes: crypt(password, hash) == hash, in constant time.
struct HashJob {
    std::string password;
    std::string hash;
    bool matched = false;

    ~HashJob() { OPENSSL_cleanse(password.data(), password.size()); }

    void run() {
        auto data = std::make_unique<crypt_data>();  // ~32 KiB: not on a pool thread's stack
        const char* out = crypt_rn(password.c_str(), hash.c_str(), data.get(), sizeof *data);
        matched = out && out[0] != '*' && std::strlen(out) == hash.size() &&
                  CRYPTO_memcmp(out, hash.data(), hash.size()) == 0;
        OPENSSL_cleanse(data.get(), sizeof *data);
    }
};

}  // namespace

tl::expected<policy::Htpasswd, std::string> ProxyAuth::load(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return tl::unexpected("auth_basic: cannot read '" + path + "'");
    std::stringstream text;
    text << in.rdbuf();
    auto table = policy::parse_htpasswd(text.str());
    if (!table) return tl::unexpected("auth_basic: " + path + ": " + table.error());
    return table;
}

ProxyAuth::ProxyAuth(uv_loop_t* loop, policy::Htpasswd table)
    : loop_(loop),
      table_(std::make_shared<const policy::Htpasswd>(std::move(table))),
      challenge_(policy::basic_challenge("dlproxy")) {}

ProxyAuth::~ProxyAuth() = default;

void ProxyAuth::replace(policy::Htpasswd table) {
    table_ = std::make_shared<const policy::Htpasswd>(std::move(table));
    passed_.clear();
}

bool ProxyAuth::remembered(const std::string& digest) {
    auto it = passed_.find(digest);
    if (it == passed_.end()) return false;
    if (it->second > uv_now(loop_)) return true;
    passed_.erase(it);
    return false;
}

ProxyAuth::Verdict ProxyAuth::check(std::optional<std::string_view> field,
                                    std::weak_ptr<void> alive, Done done) {
    if (!field) return Verdict::Denied;
    const std::string digest = sha256_of(*field);
    if (remembered(digest)) return Verdict::Allowed;
    if (auto it = pending_.find(digest); it != pending_.end()) {
        it->second.waiters.push_back({std::move(alive), std::move(done)});
        return Verdict::Checking;
    }
    std::optional<policy::BasicCredentials> credentials = policy::parse_basic_credentials(*field);
    if (!credentials) return Verdict::Denied;
    if (pending_.size() >= kMaxQueued) {
        spdlog::warn("proxy authentication: {} checks waiting; refusing user '{}' at once",
                     pending_.size(), loggable(credentials->user));
        return Verdict::Denied;
    }
    const policy::HtpasswdEntry* entry = table_->find(credentials->user);
    Pending pending;
    pending.known = entry != nullptr;
    pending.hash = entry ? entry->hash : table_->entries.front().hash;
    pending.credentials = std::move(*credentials);
    pending.waiters.push_back({std::move(alive), std::move(done)});
    pending_.emplace(digest, std::move(pending));
    queue_.push_back(digest);
    start_next();
    return Verdict::Checking;
}

void ProxyAuth::start_next() {
    while (running_ < kMaxChecks && !queue_.empty()) {
        const std::string digest = std::move(queue_.front());
        queue_.pop_front();
        const Pending& pending = pending_.at(digest);
        auto job = std::make_shared<HashJob>();
        job->password = pending.credentials.password;
        job->hash = pending.hash;
        ++running_;
        std::weak_ptr<bool> self_alive = alive_;
        const bool queued = run_on_worker(
            loop_, [job] { job->run(); },
            [this, self_alive, job, digest] {
                if (self_alive.expired()) return;
                --running_;
                finish(digest, job->matched);
                start_next();
            });
        if (!queued) {
            --running_;
            finish(digest, false);
        }
    }
}

void ProxyAuth::finish(const std::string& digest, bool matched) {
    auto node = pending_.extract(digest);
    if (node.empty()) return;
    Pending& pending = node.mapped();
    const bool allowed = matched && pending.known;
    OPENSSL_cleanse(pending.credentials.password.data(), pending.credentials.password.size());
    if (allowed) {
        if (passed_.size() >= kMaxRemembered) passed_.clear();
        passed_[digest] = uv_now(loop_) + kRememberMs;
        spdlog::debug("proxy authentication: user '{}' accepted",
                      loggable(pending.credentials.user));
    } else {
        spdlog::info("proxy authentication failed for user '{}'{}",
                     loggable(pending.credentials.user), pending.known ? "" : " (no such user)");
    }
    for (Waiter& w : pending.waiters)
        if (!w.alive.expired()) w.done(allowed);
}

}  // namespace proxy
