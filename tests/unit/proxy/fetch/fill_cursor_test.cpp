// proxy/fetch/fill_cursor.h: body bytes fill the chunk being filled up to its length and the
// run's end, seal() hands the chunk out and moves on, and a run can end early.
#include "proxy/fetch/fill_cursor.h"

#include <doctest/doctest.h>

#include <cstddef>
#include <vector>

using proxy::FillCursor;

namespace {

std::vector<std::byte> bytes(size_t n, unsigned char first = 0) {
    std::vector<std::byte> out(n);
    for (size_t i = 0; i < n; ++i)
        out[i] = static_cast<std::byte>(first + i);
    return out;
}

}  // namespace

TEST_CASE("proxy/fetch/fill_cursor: a chunk fills up to its length, then is sealed") {
    FillCursor c;
    c.begin_run(0, 10, 0);
    auto data = bytes(10);
    CHECK(c.take(data.data(), 10, 4) == 4);  // chunk 0 is 4 bytes long
    CHECK(c.next() == 4);
    CHECK(c.chunk_full(4));
    CHECK(c.take(data.data() + 4, 6, 4) == 0);  // full: takes nothing more
    auto sealed = c.seal();
    CHECK(sealed->index == 0);
    CHECK(sealed->bytes.size() == 4);
    CHECK(sealed->bytes.data()[3] == std::byte{3});
    CHECK(c.chunk_index() == 1);
    CHECK(c.chunk_bytes().empty());
    CHECK(c.take(data.data() + 4, 6, 4) == 4);
    CHECK(c.chunk_bytes()[0] == std::byte{4});
}

TEST_CASE("proxy/fetch/fill_cursor: the run's end bounds what is taken") {
    FillCursor c;
    c.begin_run(8, 10, 2);  // chunks of 4: the run is the first half of chunk 2
    auto data = bytes(4);
    CHECK(c.in_run());
    CHECK(c.take(data.data(), 4, 4) == 2);
    CHECK(c.next() == 10);
    CHECK_FALSE(c.in_run());
    CHECK_FALSE(c.chunk_full(4));
}

TEST_CASE("proxy/fetch/fill_cursor: a run ends early; a transfer marks where it began") {
    FillCursor c;
    c.begin_run(0, 100, 0);
    auto data = bytes(8);
    c.take(data.data(), 8, 8);
    c.seal();
    c.transfer_started();
    CHECK(c.run_begin() == 8);
    c.end_run_here();
    CHECK(c.run_end() == 8);
    CHECK_FALSE(c.in_run());
}

TEST_CASE("proxy/fetch/fill_cursor: a new run or a stop drops the partial chunk") {
    FillCursor c;
    c.begin_run(0, 100, 0);
    auto data = bytes(3);
    c.take(data.data(), 3, 8);
    CHECK(c.chunk_bytes().size() == 3);
    c.drop_chunk();
    CHECK(c.chunk_bytes().empty());
    c.take(data.data(), 3, 8);
    c.begin_run(16, 24, 2);
    CHECK(c.chunk_bytes().empty());
    CHECK(c.chunk_index() == 2);
    CHECK(c.next() == 16);
}

TEST_CASE("proxy/fetch/fill_cursor: a replan is taken once, or cancelled") {
    FillCursor c;
    CHECK_FALSE(c.take_replan());
    c.want_replan();
    CHECK(c.replan_due());
    CHECK(c.take_replan());
    CHECK_FALSE(c.replan_due());
    c.want_replan();
    c.cancel_replan();
    CHECK_FALSE(c.take_replan());
}
