#include "policy/invalidation.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace policy;

namespace {

std::vector<std::string> urls(std::string_view method, int status, std::string_view target,
                              const HeaderList& response) {
    auto t = parse_absolute_target(target, true);
    REQUIRE(t);
    std::vector<std::string> out;
    for (const auto& r : invalidated_targets(method, status, *t, response))
        out.push_back(r.url());
    return out;
}

using Urls = std::vector<std::string>;

}  // namespace

TEST_CASE("policy/invalidation: is_safe_method (RFC 9110 §9.2.1)") {
    for (auto m : {"GET", "HEAD", "OPTIONS", "TRACE"})
        CHECK(is_safe_method(m));
    for (auto m : {"POST", "PUT", "DELETE", "PATCH", "M-SEARCH", "get", "CONNECT"})
        CHECK_FALSE(is_safe_method(m));
}

TEST_CASE("policy/invalidation: invalidated_targets (RFC 9111 §4.4)") {
    struct Row {
        const char* name;
        const char* method;
        int status;
        const char* target;
        HeaderList response;
        Urls expected;
    };
    const char* t = "http://o.test:8080/a/b?q=1";
    const Row rows[] = {
        {"safe method: nothing", "GET", 200, t, {}, {}},
        {"HEAD: nothing", "HEAD", 200, t, {{"Location", "/x"}}, {}},
        {"POST 200: the target", "POST", 200, t, {}, {t}},
        {"PUT 201", "PUT", 201, t, {}, {t}},
        {"DELETE 204", "DELETE", 204, t, {}, {t}},
        {"unknown method counts as unsafe", "M-SEARCH", 200, t, {}, {t}},
        {"3xx invalidates", "POST", 303, t, {}, {t}},
        {"4xx is an error: nothing", "POST", 404, t, {}, {}},
        {"5xx is an error: nothing", "DELETE", 500, t, {}, {}},
        {"1xx: nothing", "POST", 100, t, {}, {}},
        {"Location absolute-path",
         "POST",
         201,
         t,
         {{"Location", "/new"}},
         {t, "http://o.test:8080/new"}},
        {"Location relative path",
         "POST",
         201,
         t,
         {{"Location", "c"}},
         {t, "http://o.test:8080/a/c"}},
        {"Location query only",
         "POST",
         201,
         t,
         {{"Location", "?z"}},
         {t, "http://o.test:8080/a/b?z"}},
        {"Content-Location same origin, absolute",
         "PUT",
         200,
         t,
         {{"Content-Location", "http://O.TEST:8080/c#frag"}},
         {t, "http://o.test:8080/c"}},
        {"both fields",
         "POST",
         200,
         t,
         {{"Location", "/l"}, {"Content-Location", "/cl"}},
         {t, "http://o.test:8080/l", "http://o.test:8080/cl"}},
        {"other host is never invalidated",
         "POST",
         201,
         t,
         {{"Location", "http://x.test:8080/"}},
         {t}},
        {"other port is never invalidated", "POST", 201, t, {{"Location", "http://o.test/a"}}, {t}},
        {"other scheme is never invalidated",
         "POST",
         201,
         t,
         {{"Location", "https://o.test:8080/a"}},
         {t}},
        {"network-path reference, same origin",
         "POST",
         201,
         t,
         {{"Location", "//o.test:8080/n"}},
         {t, "http://o.test:8080/n"}},
        {"garbage reference ignored", "POST", 201, t, {{"Location", "http://"}}, {t}},
        {"empty reference ignored", "POST", 201, t, {{"Location", " "}}, {t}},
    };
    for (const auto& row : rows) {
        INFO(std::string(row.name));
        CHECK(urls(row.method, row.status, row.target, row.response) == row.expected);
    }
}
