// ProxyAuth: who may use the proxy, by Basic credentials against an htpasswd file
// (`--auth-basic FILE`; policy/proxy_auth.h parses; docs/operations.md "A LAN with auth").
//
// crypt(3) runs on a worker: bcrypt and yescrypt cost tens of milliseconds on purpose, which the
// loop cannot spend. At most kMaxChecks hashes run at once (the pool also writes the cache's
// chunks), further checks wait in a bounded queue, and concurrent checks of one field value
// share one hash. The result is compared with CRYPTO_memcmp; a user that does not exist is
// hashed against a real entry's hash anyway, so timing does not tell which users exist.
//
// A field value that passed is remembered for kRememberMs by its SHA-256 (never in clear) so a
// client's next requests and connections are answered at once; a reload forgets them all.
// Failures are not remembered: each costs a hash, which is the rate limit.
//
// Credentials never reach a log: only the user name and the verdict are logged.
// Thread: the loop thread. Lifetime: owned by Server.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "policy/proxy_auth.h"
#include "tl/expected.hpp"

namespace proxy {

class ProxyAuth {
  public:
    static constexpr size_t kMaxChecks = 2;          // hashes running at once
    static constexpr size_t kMaxQueued = 256;        // beyond: refused at once (407)
    static constexpr uint64_t kRememberMs = 300000;  // a passed value, 5 min
    static constexpr size_t kMaxRemembered = 4096;

    // Reads and parses an htpasswd file; the error names the file and the line.
    static tl::expected<policy::Htpasswd, std::string> load(const std::string& path);

    ProxyAuth(uv_loop_t* loop, policy::Htpasswd table);
    ~ProxyAuth();
    ProxyAuth(const ProxyAuth&) = delete;
    ProxyAuth& operator=(const ProxyAuth&) = delete;

    // SIGHUP: a new table; every remembered value is forgotten. Checks already hashing finish
    // against the table they started with.
    void replace(policy::Htpasswd table);

    enum class Verdict { Allowed, Denied, Checking };
    // Called on the loop with the outcome of a Checking verdict.
    using Done = std::function<void(bool allowed)>;
    // `field`: the request's Proxy-Authorization value, if any. Allowed and Denied are final;
    // Checking means `done` runs later — unless `alive` has expired by then (the connection
    // closed), when it is dropped.
    Verdict check(std::optional<std::string_view> field, std::weak_ptr<void> alive, Done done);

    // The 407's Proxy-Authenticate value.
    const std::string& challenge() const { return challenge_; }

  private:
    struct Waiter {
        std::weak_ptr<void> alive;
        Done done;
    };
    struct Pending {
        policy::BasicCredentials credentials;
        std::string hash;  // the entry's, or a stand-in's for an unknown user
        bool known = false;
        std::vector<Waiter> waiters;
    };

    void start_next();
    void finish(const std::string& digest, bool allowed);
    bool remembered(const std::string& digest);

    uv_loop_t* loop_;
    std::shared_ptr<const policy::Htpasswd> table_;
    std::string challenge_;
    std::unordered_map<std::string, uint64_t> passed_;  // SHA-256 of the value -> until (ms)
    std::map<std::string, Pending> pending_;            // by SHA-256 of the value
    std::deque<std::string> queue_;                     // pending_ keys not yet hashing
    size_t running_ = 0;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace proxy
