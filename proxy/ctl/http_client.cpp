#include "proxy/ctl/http_client.h"

#include <memory>

namespace ctl {

namespace {

struct CurlDeleter {
    void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
    void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

size_t on_body(char* data, size_t size, size_t n, void* user) noexcept {
    static_cast<HttpReply*>(user)->body.append(data, size * n);
    return size * n;
}

// Header lines of every response arrive here; a status line starts a new response, so only
// the last one's fields remain.
size_t on_header(char* data, size_t size, size_t n, void* user) noexcept {
    auto* reply = static_cast<HttpReply*>(user);
    std::string_view line(data, size * n);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
        line.remove_suffix(1);
    if (line.starts_with("HTTP/")) {
        reply->headers.clear();
    } else if (auto colon = line.find(':'); colon != std::string_view::npos) {
        reply->headers.push_back({std::string(policy::trim_ows(line.substr(0, colon))),
                                  std::string(policy::trim_ows(line.substr(colon + 1)))});
    }
    return size * n;
}

}  // namespace

HttpReply perform(const HttpRequest& request) {
    HttpReply reply;
    std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
    if (!curl) {
        reply.code = CURLE_FAILED_INIT;
        reply.error = "libcurl failed to initialise";
        return reply;
    }
    char error[CURL_ERROR_SIZE] = {};
    CURL* c = curl.get();
    curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, request.connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, request.timeout_ms);
    // An explicit empty proxy also stops libcurl from reading *_proxy environment variables.
    curl_easy_setopt(c, CURLOPT_PROXY, request.proxy.c_str());
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &reply);
    if (request.method == "HEAD") {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (request.method == "POST") {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.c_str());
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                         static_cast<curl_off_t>(request.body.size()));
    }
    std::unique_ptr<curl_slist, SlistDeleter> fields;
    for (const auto& h : request.headers)
        fields.reset(curl_slist_append(fields.release(), h.c_str()));
    if (request.method == "POST")
        fields.reset(curl_slist_append(fields.release(), "Content-Type: application/json"));
    if (fields) curl_easy_setopt(c, CURLOPT_HTTPHEADER, fields.get());

    reply.code = curl_easy_perform(c);
    if (reply.code != CURLE_OK) {
        reply.error = error[0] != '\0' ? error : curl_easy_strerror(reply.code);
        while (!reply.error.empty() && reply.error.back() == '\n')
            reply.error.pop_back();
        return reply;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply.status);
    return reply;
}

HttpRequest AdminClient::request(const std::string& method, const std::string& path) const {
    HttpRequest r;
    r.method = method;
    r.url = base_ + path;
    if (!token_.empty()) r.headers.push_back("Authorization: Bearer " + token_);
    return r;
}

HttpReply AdminClient::get(const std::string& path, long timeout_ms) const {
    HttpRequest r = request("GET", path);
    r.timeout_ms = timeout_ms;
    return perform(r);
}

HttpReply AdminClient::post(const std::string& path, const std::string& json_body) const {
    HttpRequest r = request("POST", path);
    r.body = json_body;
    return perform(r);
}

std::string first_line(const std::string& text) {
    std::string line = text.substr(0, text.find('\n'));
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
}

}  // namespace ctl
