#include "proxy/http1/response_head.h"

namespace proxy::http1 {

std::string_view reason_phrase(int status) {
    switch (status) {
        case 100:
            return "Continue";
        case 101:
            return "Switching Protocols";
        case 200:
            return "OK";
        case 201:
            return "Created";
        case 202:
            return "Accepted";
        case 204:
            return "No Content";
        case 206:
            return "Partial Content";
        case 301:
            return "Moved Permanently";
        case 302:
            return "Found";
        case 303:
            return "See Other";
        case 304:
            return "Not Modified";
        case 307:
            return "Temporary Redirect";
        case 308:
            return "Permanent Redirect";
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 408:
            return "Request Timeout";
        case 411:
            return "Length Required";
        case 412:
            return "Precondition Failed";
        case 413:
            return "Content Too Large";
        case 414:
            return "URI Too Long";
        case 416:
            return "Range Not Satisfiable";
        case 417:
            return "Expectation Failed";
        case 429:
            return "Too Many Requests";
        case 431:
            return "Request Header Fields Too Large";
        case 500:
            return "Internal Server Error";
        case 501:
            return "Not Implemented";
        case 502:
            return "Bad Gateway";
        case 503:
            return "Service Unavailable";
        case 504:
            return "Gateway Timeout";
        case 505:
            return "HTTP Version Not Supported";
        case 508:
            return "Loop Detected";
        default:
            return "";
    }
}

std::string format_response_head(int status, std::string_view reason,
                                 const policy::HeaderList& headers) {
    std::string out;
    out.reserve(256 + headers.size() * 48);
    if (reason.empty()) reason = reason_phrase(status);
    out.append("HTTP/1.1 ")
        .append(std::to_string(status))
        .append(" ")
        .append(reason)
        .append("\r\n");
    for (const auto& h : headers)
        out.append(h.name).append(": ").append(h.value).append("\r\n");
    out.append("\r\n");
    return out;
}

std::string format_error_response(int status, std::string_view message, bool keep_alive,
                                  bool head_request, const policy::HeaderList& extra) {
    std::string body(message);
    body.push_back('\n');
    policy::HeaderList headers = {
        {"Content-Type", "text/plain; charset=utf-8"},
        {"Content-Length", std::to_string(body.size())},
        {"Cache-Control", "no-store"},
        {"Via", "1.1 dlproxy"},
        {"Connection", keep_alive ? "keep-alive" : "close"},
    };
    headers.insert(headers.end(), extra.begin(), extra.end());
    std::string out = format_response_head(status, "", headers);
    if (!head_request) out += body;
    return out;
}

bool response_has_no_body(std::string_view method, int status) {
    return method == "HEAD" || (status >= 100 && status < 200) || status == 204 || status == 304;
}

}  // namespace proxy::http1
