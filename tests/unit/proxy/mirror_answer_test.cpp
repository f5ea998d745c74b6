#include "proxy/client/mirror_answer.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "policy/intercept.h"

namespace {

const policy::MirrorSites& sites() {
    static const policy::MirrorSites s{"huggingface.co", policy::default_intercept_patterns()};
    return s;
}

policy::MirrorLinks links() {
    return policy::MirrorLinks(sites(), "http://127.0.0.1:3128", "");
}

}  // namespace

TEST_CASE("proxy/mirror_answer: every mirrored URL in a JSON document, nothing else") {
    // The shapes of xet-read-token and of reconstructions V1 and V2 (tests/origin/xet_service.py).
    const std::string token =
        R"({"casUrl":"https://cas-server.xethub.hf.co","accessToken":"t","exp":1})";
    auto out = proxy::rewrite_json_urls(token, links());
    REQUIRE(out);
    auto doc = nlohmann::json::parse(*out);
    CHECK(doc["casUrl"] == "http://127.0.0.1:3128/_mirror/cas-server.xethub.hf.co");
    CHECK(doc["accessToken"] == "t");

    const std::string v2 = R"({"terms":[{"hash":"ab","range":{"start":0,"end":2}}],
        "xorbs":{"ab":[{"url":"https:\/\/transfer.xethub.hf.co/xorb/default/ab?X-Xet-Signature=s%3D",
                       "ranges":[{"chunks":{"start":0,"end":2},"bytes":{"start":0,"end":99}}]}]},
        "other":"https://example.com/x","n":[1,2.5,null,true]})";
    out = proxy::rewrite_json_urls(v2, links());
    REQUIRE(out);
    doc = nlohmann::json::parse(*out);
    CHECK(doc["xorbs"]["ab"][0]["url"] ==
          "http://127.0.0.1:3128/_mirror/transfer.xethub.hf.co/xorb/default/ab?"
          "X-Xet-Signature=s%3D");
    CHECK(doc["other"] == "https://example.com/x");
    CHECK(doc["n"] == nlohmann::json::parse("[1,2.5,null,true]"));
    CHECK(doc["terms"][0]["range"]["end"] == 2);

    // Nothing to rewrite: the body goes as it came, byte for byte.
    const std::string plain = R"({ "a" : "b" })";
    CHECK(proxy::rewrite_json_urls(plain, links()) == plain);
    CHECK_FALSE(proxy::rewrite_json_urls("{not json", links()));
}

TEST_CASE("proxy/mirror_answer: held answers, the bound, heads") {
    const policy::HeaderList json{{"Content-Type", "application/json; charset=utf-8"},
                                  {"Content-Length", "60"},
                                  {"Link", "<https://huggingface.co/a>; rel=x"}};
    proxy::MirrorAnswer plain(links(), false);
    CHECK_FALSE(plain.hold("GET", 200, "OK", json));
    CHECK(plain.rewrite_head(json)[2].value == "<http://127.0.0.1:3128/a>; rel=x");

    proxy::MirrorAnswer answer(links(), true);
    CHECK_FALSE(answer.hold("HEAD", 200, "OK", json));
    CHECK_FALSE(answer.hold("GET", 401, "Unauthorized", json));
    CHECK_FALSE(answer.hold("GET", 200, "OK", {{"Content-Type", "text/plain"}}));
    CHECK_FALSE(answer.hold("GET", 200, "OK",
                            {{"Content-Type", "application/json"}, {"Content-Encoding", "gzip"}}));
    REQUIRE(answer.hold("GET", 200, "OK", json));
    const std::string body = R"({"casUrl":"https://cas-server.xethub.hf.co"})";
    CHECK(answer.append(body.data(), 10));
    CHECK(answer.append(body.data() + 10, body.size() - 10));
    auto released = answer.release();
    CHECK_FALSE(answer.holding());
    CHECK(released.status == 200);
    CHECK(released.body == R"({"casUrl":"http://127.0.0.1:3128/_mirror/cas-server.xethub.hf.co"})");
    CHECK(policy::find_header(released.headers, "content-length") ==
          std::to_string(released.body.size()));
    CHECK(policy::count_header(released.headers, "content-length") == 1);
    CHECK(policy::find_header(released.headers, "link") == "<http://127.0.0.1:3128/a>; rel=x");

    proxy::MirrorAnswer big(links(), true);
    REQUIRE(big.hold("GET", 200, "OK", {{"Content-Type", "application/vnd.x+json"}}));
    const std::string mib(1u << 20, ' ');
    for (size_t i = 0; i < proxy::MirrorAnswer::kMaxBody >> 20; ++i)
        CHECK(big.append(mib.data(), mib.size()));
    CHECK_FALSE(big.append("x", 1));
}
