// proxy/xet/xorb_hit: the answer a xorb hit sends, read back with the multipart parser.
#include "proxy/xet/xorb_hit.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "policy/multipart.h"

using policy::ByteRange;

namespace {

struct Parts : policy::MultipartVisitor {
    std::vector<std::pair<ByteRange, std::string>> got;
    void on_part(ByteRange r, uint64_t complete) override {
        CHECK(complete == 1000);
        got.push_back({r, {}});
    }
    void on_part_bytes(std::string_view b) override { got.back().second.append(b); }
    void on_part_end() override {}
};

std::string header(const policy::HeaderList& headers, std::string_view name) {
    auto v = policy::find_header(headers, name);
    return v ? std::string(*v) : std::string();
}

}  // namespace

TEST_CASE("proxy/xorb_hit: one range is a plain 206 with Content-Range") {
    auto a = proxy::xet::format_xorb_answer({{10, 15}}, 1000, "abcde", 1);
    CHECK(a.hit);
    CHECK(a.body == "abcde");
    CHECK(header(a.headers, "content-range") == "bytes 10-14/1000");
    CHECK(header(a.headers, "content-length") == "5");
}

TEST_CASE("proxy/xorb_hit: several ranges are one part each, in request order, our boundary") {
    const std::vector<ByteRange> ranges = {{500, 503}, {0, 2}, {998, 1000}};
    auto a = proxy::xet::format_xorb_answer(ranges, 1000, "XYZab\r\n", 0xabc);
    auto boundary = policy::byteranges_boundary(header(a.headers, "content-type"));
    REQUIRE(boundary);
    CHECK(*boundary == "dlproxy-0000000000000abc");
    CHECK(header(a.headers, "content-length") == std::to_string(a.body.size()));
    policy::MultipartParser parser(*boundary);
    Parts parts;
    REQUIRE(parser.feed(a.body, parts));
    REQUIRE(parser.finish());
    REQUIRE(parts.got.size() == 3);
    CHECK(parts.got[0] == std::pair{ByteRange{500, 503}, std::string("XYZ")});
    CHECK(parts.got[1] == std::pair{ByteRange{0, 2}, std::string("ab")});
    CHECK(parts.got[2] == std::pair{ByteRange{998, 1000}, std::string("\r\n")});
}
