#include "policy/multipart.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using policy::ByteRange;
using policy::MultipartErrc;
using policy::MultipartParser;

namespace {

// Records what the parser reports: one entry per part.
struct Parts : policy::MultipartVisitor {
    struct Part {
        ByteRange range;
        uint64_t complete = 0;
        std::string bytes;
        bool ended = false;
    };
    std::vector<Part> parts;
    void on_part(ByteRange range, uint64_t complete) override {
        parts.push_back({range, complete, {}, false});
    }
    void on_part_bytes(std::string_view b) override { parts.back().bytes.append(b); }
    void on_part_end() override { parts.back().ended = true; }
};

std::string body_of(std::string_view boundary,
                    const std::vector<std::pair<ByteRange, std::string>>& parts,
                    uint64_t complete) {
    std::string out;
    for (const auto& [range, bytes] : parts)
        out += policy::multipart_part_head(boundary, "application/octet-stream", range, complete) +
               bytes;
    return out + policy::multipart_close_delimiter(boundary);
}

// Feeds `body` in pieces of `step` bytes.
policy::Result<void, MultipartErrc> parse(std::string_view boundary, std::string_view body,
                                          size_t step, Parts& out) {
    MultipartParser p{std::string(boundary)};
    for (size_t i = 0; i < body.size(); i += step) {
        auto r = p.feed(body.substr(i, step), out);
        if (!r) return r;
    }
    return p.finish();
}

}  // namespace

TEST_CASE("policy/multipart: what it writes it parses, in pieces of any size") {
    const std::string body =
        body_of("b0undary", {{{0, 5}, "hello"}, {{100, 103}, "xyz"}, {{7, 8}, "\r"}}, 1000);
    for (size_t step : {1, 2, 3, 7, 64, 4096}) {
        CAPTURE(step);
        Parts got;
        REQUIRE(parse("b0undary", body, step, got));
        REQUIRE(got.parts.size() == 3);
        CHECK(got.parts[0].range == ByteRange{0, 5});
        CHECK(got.parts[0].bytes == "hello");
        CHECK(got.parts[1].range == ByteRange{100, 103});
        CHECK(got.parts[1].bytes == "xyz");
        CHECK(got.parts[2].bytes == "\r");
        CHECK(got.parts[2].complete == 1000);
        for (const auto& p : got.parts)
            CHECK(p.ended);
    }
}

TEST_CASE("policy/multipart: the Xet origin's shape, a preamble, padding, and an epilogue") {
    const std::string xet =
        "\r\n--abc\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 2-4/9\r\n"
        "\r\nXYZ\r\n--abc\r\ncontent-range:bytes 6-6/9\r\n\r\nQ\r\n--abc--\r\n";
    Parts got;
    REQUIRE(parse("abc", xet, 5, got));
    REQUIRE(got.parts.size() == 2);
    CHECK(got.parts[1].range == ByteRange{6, 7});
    CHECK(got.parts[1].bytes == "Q");

    const std::string padded =
        "this is a preamble\r\n--abc  \r\nContent-Range: bytes 0-0/1\r\n"
        "\r\nA\r\n--abc--\r\nepilogue, ignored --abc";
    Parts p2;
    REQUIRE(parse("abc", padded, 1, p2));
    CHECK(p2.parts.size() == 1);
}

TEST_CASE("policy/multipart: errors") {
    struct Row {
        const char* body;
        MultipartErrc error;
    };
    const Row rows[] = {
        // The part is longer than its Content-Range says.
        {"--b\r\nContent-Range: bytes 0-1/5\r\n\r\nABC\r\n--b--\r\n", MultipartErrc::BadDelimiter},
        // Shorter: the delimiter is found where a part byte was expected, then garbage follows.
        {"--b\r\nContent-Range: bytes 0-3/5\r\n\r\nAB\r\n--b--\r\n", MultipartErrc::BadDelimiter},
        {"--b\r\nContent-Type: x\r\n\r\nAB\r\n--b--\r\n", MultipartErrc::NoContentRange},
        {"--b\r\n\r\nAB", MultipartErrc::NoContentRange},
        {"--b\r\nContent-Range: bytes 0-1/*\r\n\r\nAB\r\n--b--\r\n",
         MultipartErrc::BadContentRange},
        {"--b\r\nContent-Range: bytes */5\r\n\r\n", MultipartErrc::BadContentRange},
        {"--bx\r\n", MultipartErrc::BadDelimiter},
        {"--b\r\nContent-Range: bytes 0-1/5\r\n\r\nAB\r\n--b", MultipartErrc::Truncated},
        {"--b\r\nContent-Range: bytes 0-1/5\r\n\r\nA", MultipartErrc::Truncated},
        {"", MultipartErrc::Truncated},
    };
    for (const Row& row : rows) {
        CAPTURE(row.body);
        Parts got;
        auto r = parse("b", row.body, 1, got);
        REQUIRE_FALSE(r);
        CHECK(r.error() == row.error);
    }
    Parts got;
    CHECK(parse("b", std::string(2000, 'x'), 100, got).error() == MultipartErrc::PreambleTooLong);
    const std::string long_headers = "--b\r\nX: " + std::string(9000, 'h');
    CHECK(parse("b", long_headers, 100, got).error() == MultipartErrc::HeadersTooLong);
}

TEST_CASE("policy/multipart: an error sticks") {
    MultipartParser p{"b"};
    Parts got;
    REQUIRE_FALSE(p.feed("--bz", got));
    CHECK(p.feed("--b\r\n", got).error() == MultipartErrc::BadDelimiter);
    CHECK(p.finish().error() == MultipartErrc::BadDelimiter);
}

TEST_CASE("policy/multipart: boundary of a Content-Type") {
    struct Row {
        const char* type;
        std::optional<std::string> boundary;
    };
    const Row rows[] = {
        {"multipart/byteranges; boundary=3d6b6a416f9b5", "3d6b6a416f9b5"},
        {"Multipart/ByteRanges;charset=x; Boundary=\"a b:c\"", "a b:c"},
        {"multipart/byteranges", std::nullopt},
        {"multipart/byteranges; boundary=", std::nullopt},
        {"multipart/byteranges; boundary=a@b", std::nullopt},
        {"multipart/mixed; boundary=abc", std::nullopt},
        {"application/octet-stream", std::nullopt},
    };
    for (const Row& row : rows) {
        CAPTURE(row.type);
        CHECK(policy::byteranges_boundary(row.type) == row.boundary);
    }
    CHECK(policy::byteranges_content_type("x1") == "multipart/byteranges; boundary=x1");
}
