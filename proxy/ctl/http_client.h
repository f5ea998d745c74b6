// Blocking HTTP requests with libcurl, for dlproxyctl: the admin API (AdminClient), the HEAD of
// `import`. `prefetch` drives its own easy handle for streaming and progress.
//
// Proxy environment variables are ignored: every request goes exactly where the command says
// (directly, or through the proxy it was given).
#pragma once

#include <curl/curl.h>

#include <string>
#include <vector>

#include "policy/header_list.h"

namespace ctl {

struct HttpRequest {
    std::string method = "GET";  // GET, POST or HEAD
    std::string url;
    std::string body;                  // POST body (sent as application/json)
    std::vector<std::string> headers;  // extra request fields, "Name: value"
    std::string proxy;                 // "" = connect directly
    long connect_timeout_ms = 2000;
    long timeout_ms = 300000;
};

struct HttpReply {
    CURLcode code = CURLE_OK;  // the transfer's outcome; CURLE_OK when a response arrived
    std::string error;         // curl's message when code != CURLE_OK
    long status = 0;
    policy::HeaderList headers;  // of the last response (after any 1xx)
    std::string body;

    bool answered() const { return code == CURLE_OK; }
    // Nothing listens there (connection refused, or no route): the daemon is not running.
    bool not_running() const {
        return code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST;
    }
};

HttpReply perform(const HttpRequest& request);

// The running dlproxy's admin API at `base_url` (e.g. "http://127.0.0.1:3129").
class AdminClient {
  public:
    AdminClient(std::string base_url, std::string token)
        : base_(std::move(base_url)), token_(std::move(token)) {}

    HttpReply get(const std::string& path, long timeout_ms = 10000) const;
    HttpReply post(const std::string& path, const std::string& json_body) const;
    const std::string& base_url() const { return base_; }

  private:
    HttpRequest request(const std::string& method, const std::string& path) const;

    std::string base_;
    std::string token_;
};

// The first line of an error body, for messages ("not cached: http://x/").
std::string first_line(const std::string& text);

}  // namespace ctl
