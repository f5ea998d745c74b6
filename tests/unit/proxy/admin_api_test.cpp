#include "proxy/admin/admin_api.h"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "tests/unit/cache/test_support.h"
#include "tests/unit/proxy/prometheus_text.h"

using namespace cache::test;
using nlohmann::json;
using proxy::AdminRequest;
using proxy::AdminResponse;

namespace {

const std::vector<uint8_t> kLoopback{127, 0, 0, 1};

class TwoFills : public proxy::StatusProvider {
  public:
    std::vector<proxy::FillStatus> inflight_fills() const override {
        return {{"http://a/big", 1000, 5000, 250.5, 2, "transferring", "http://a/big", 0, 1,
                 std::nullopt, "", "", ""},
                {"http://a/chunked", 10, std::nullopt, 0, 1, "waiting_retry", "http://a/chunked", 0,
                 0, 1500, "", "", ""}};
    }
};

// An AdminApi over a fresh store holding http://a/x (40 bytes, complete) and http://a/y
// (partial), started at t=1000.
struct Fixture {
    TempDir dir;
    std::unique_ptr<cache::Store> store = open_store(dir.path());
    proxy::StoreCacheAdmin cache_admin{*store};
    proxy::Config config;
    proxy::Metrics metrics;
    TwoFills fills;
    proxy::AdminApi api;

    explicit Fixture(std::string token = "", bool with_cache = true)
        : api(config, metrics, with_cache ? &cache_admin : nullptr, fills, std::move(token), 1000) {
        auto x = store->begin_object(head_for("http://a/x", 40), 1000).value();
        write_all_chunks(*store, x, pattern_bytes(40, 1));
        REQUIRE(store->mark_complete(x));
        auto y = store->begin_object(head_for("http://a/y", 40), 1000).value();
        REQUIRE(store->write_chunk(y, 0, pattern_bytes(16, 2)));
    }

    AdminResponse call(std::string method, std::string target, std::string body = "",
                       std::string authorization = "", std::vector<uint8_t> peer = kLoopback) {
        AdminRequest r{std::move(method), std::move(target), std::move(authorization),
                       std::move(body), std::move(peer)};
        return api.handle(r, 1010.5);
    }
};

std::string header(const AdminResponse& r, std::string_view name) {
    auto v = policy::find_header(r.headers, name);
    return v ? std::string(*v) : "";
}

json body_json(const AdminResponse& r) {
    REQUIRE(r.content_type == "application/json");
    return json::parse(r.body);
}

}  // namespace

TEST_CASE("proxy/admin_api: GET /metrics is valid exposition text with the cache gauges set") {
    Fixture f;
    f.metrics.requests(proxy::RequestResult::Miss).inc();
    auto r = f.call("GET", "/metrics?x=1");
    CHECK(r.status == 200);
    CHECK(r.content_type.starts_with("text/plain; version=0.0.4"));
    auto page = promtext::parse(r.body);
    CHECK(page.ok());
    CHECK(page.value("dlproxy_requests_total", {{"result", "MISS"}}) == 1);
    CHECK(page.value("dlproxy_cache_objects") == 2);
    CHECK(page.value("dlproxy_cache_bytes") == 56);
    CHECK(f.call("HEAD", "/metrics").status == 200);
}

TEST_CASE("proxy/admin_api: GET /status reports version, uptime, config, cache and fills") {
    Fixture f("secret");
    auto s = body_json(f.call("GET", "/status", "", "Bearer secret"));
    CHECK(s["version"] == proxy::dlproxy_version());
    CHECK(s["uptime_seconds"].get<double>() == doctest::Approx(10.5));
    CHECK(s["config"]["listen"] == "127.0.0.1:3128");
    CHECK(s["config"]["admin_token"] == true);
    CHECK(s["config"]["allow"].size() == 2);
    CHECK(s["cache"]["objects"] == 2);
    CHECK(s["cache"]["partial_objects"] == 1);
    REQUIRE(s["inflight_fills"].size() == 2);
    const json& fill = s["inflight_fills"][0];
    CHECK(fill["url"] == "http://a/big");
    CHECK(fill["bytes_done"] == 1000);
    CHECK(fill["total"] == 5000);
    CHECK(fill["rate_bytes_per_s"] == 250.5);
    CHECK(fill["attempts"] == 2);
    CHECK(fill["state"] == "transferring");
    CHECK(s["inflight_fills"][1]["total"].is_null());

    f.api.set_listen_addresses("127.0.0.1:41000", "127.0.0.1:41001");
    s = body_json(f.call("GET", "/status", "", "Bearer secret"));
    CHECK(s["config"]["listen"] == "127.0.0.1:41000");
    CHECK(s["config"]["admin_listen"] == "127.0.0.1:41001");
}

TEST_CASE("proxy/admin_api: unknown paths are 404, wrong methods 405 with Allow") {
    Fixture f;
    CHECK(f.call("GET", "/nope").status == 404);  // "/" is the status page since issue 17
    CHECK(f.call("GET", "/cache").status == 404);
    auto r = f.call("POST", "/metrics");
    CHECK(r.status == 405);
    CHECK(header(r, "Allow") == "GET, HEAD");
    r = f.call("GET", "/cache/purge");
    CHECK(r.status == 405);
    CHECK(header(r, "Allow") == "POST");
    CHECK(r.body.find('\n') == r.body.size() - 1);  // one line
}

TEST_CASE("proxy/admin_api: peers outside the allow list get 403") {
    Fixture f;
    CHECK(f.call("GET", "/metrics", "", "", {10, 0, 0, 1}).status == 403);
    std::vector<uint8_t> v6_loopback(16, 0);
    v6_loopback[15] = 1;
    CHECK(f.call("GET", "/metrics", "", "", v6_loopback).status == 200);
    CHECK(f.call("GET", "/metrics", "", "", {}).status == 403);
}

TEST_CASE("proxy/admin_api: with a token every route needs `Authorization: Bearer <token>`") {
    Fixture f("s3cret");
    auto r = f.call("GET", "/metrics");
    CHECK(r.status == 401);
    CHECK(header(r, "WWW-Authenticate").starts_with("Bearer"));
    CHECK(f.call("GET", "/metrics", "", "Bearer wrong").status == 401);
    CHECK(f.call("GET", "/metrics", "", "Bearer s3cre").status == 401);
    CHECK(f.call("GET", "/metrics", "", "Basic s3cret").status == 401);
    CHECK(f.call("GET", "/metrics", "", "Bearer s3cret").status == 200);
    CHECK(f.call("GET", "/metrics", "", "bearer  s3cret").status == 200);
    CHECK(f.call("POST", "/cache/gc", "", "Bearer s3cret").status == 200);
    CHECK(f.call("GET", "/nowhere").status == 401);  // no route discovery without the token
}

TEST_CASE("proxy/admin_api: POST /cache/evict by url or id") {
    Fixture f;
    auto id = f.store->lookup("http://a/y").value()->id.hex();
    auto r = f.call("POST", "/cache/evict", R"({"url": "http://A/x"})");
    CHECK(r.status == 200);
    CHECK(body_json(r) == json{{"evicted", 1}, {"bytes_freed", 40}});
    CHECK(f.call("POST", "/cache/evict", R"({"url": "http://a/x"})").status == 404);
    CHECK(body_json(f.call("POST", "/cache/evict", json{{"id", id}}.dump()))["bytes_freed"] == 16);
    CHECK(f.store->list().value().empty());
}

TEST_CASE("proxy/admin_api: bad evict and purge bodies are 400 with a one-line reason") {
    Fixture f;
    for (const char* body :
         {"", "{", "[]", "{}", R"({"url": 1})", R"({"url": ""})",
          R"({"url": "http://a/x", "id": "00"})", R"({"id": "xyz"})", R"({"path": "/x"})"}) {
        auto r = f.call("POST", "/cache/evict", body);
        CHECK_MESSAGE(r.status == 400, body);
        CHECK(r.body.find('\n') == r.body.size() - 1);
    }
    for (const char* body :
         {"", "{}", R"({"all": false})", R"({"all": 1})", R"({"older_than_seconds": -5})",
          R"({"older_than_seconds": "1d"})", R"({"older_than_seconds": 1e300})",
          R"({"partial": "yes"})", R"({"all": true, "partial": true})", R"({"older_than": 5})"}) {
        CHECK_MESSAGE(f.call("POST", "/cache/purge", body).status == 400, body);
    }
    CHECK(f.store->list().value().size() == 2);
}

TEST_CASE("proxy/admin_api: POST /cache/purge with each filter") {
    Fixture f;
    auto r = f.call("POST", "/cache/purge", R"({"partial": true})");
    CHECK(r.status == 200);
    CHECK(body_json(r) == json{{"purged", 1}, {"bytes_freed", 16}});
    // Last access 1000, now 1010.5: not older than 60 s, older than 5 s.
    CHECK(body_json(f.call("POST", "/cache/purge", R"({"older_than_seconds": 60})"))["purged"] ==
          0);
    CHECK(body_json(f.call("POST", "/cache/purge", R"({"older_than_seconds": 5})"))["purged"] == 1);
    CHECK(body_json(f.call("POST", "/cache/purge", R"({"all": true})"))["purged"] == 0);
}

TEST_CASE("proxy/admin_api: POST /cache/gc reports what it did") {
    Fixture f;
    auto g = body_json(f.call("POST", "/cache/gc"));
    CHECK(g["objects_removed"] == 0);  // the store has no budget
    CHECK(g["orphan_files_removed"] == 0);
    CHECK(g["bytes_present"] == 56);
    CHECK(g.contains("bytes_freed"));
}

TEST_CASE("proxy/admin_api: without a cache the cache routes answer 503, the others work") {
    Fixture f("", /*with_cache=*/false);
    CHECK(f.call("POST", "/cache/gc").status == 503);
    CHECK(f.call("POST", "/cache/purge", R"({"all": true})").status == 503);
    CHECK(f.call("GET", "/metrics").status == 200);
    CHECK(body_json(f.call("GET", "/status"))["cache"].is_null());
}
