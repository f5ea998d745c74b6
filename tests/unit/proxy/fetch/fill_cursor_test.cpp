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

TEST_CASE("proxy/fetch/fill_cursor: a reader's view of the live chunk never changes") {
    FillCursor c;
    c.begin_run(0, 100, 0);
    CHECK_FALSE(c.live_chunk());  // nothing taken yet
    auto data = bytes(100);
    c.take(data.data(), 3, 8);
    auto live = c.live_chunk();
    REQUIRE(live);
    CHECK(live->index == 0);
    CHECK(live->bytes.size() == 3);
    const std::byte* seen = live->bytes.data();
    c.take(data.data() + 3, 2, 8);  // appended: the first 3 bytes stay where they are
    CHECK(live->bytes.data() == seen);
    CHECK(live->bytes.size() == 5);
    // The fill stops: the chunk is let go, not cleared for reuse; the next bytes go elsewhere.
    c.drop_chunk();
    CHECK_FALSE(c.live_chunk());
    auto other = bytes(8, 200);
    c.begin_run(0, 100, 0);
    c.take(other.data(), 8, 8);
    CHECK(live->bytes.size() == 5);
    CHECK(live->bytes.data()[0] == std::byte{0});
    CHECK(live->bytes.data()[4] == std::byte{4});
    // Sealing hands out the very chunk readers share.
    auto now_live = c.live_chunk();
    auto sealed = c.seal();
    CHECK(sealed.get() == now_live.get());
    CHECK(sealed->bytes.data()[0] == std::byte{200});
    CHECK_FALSE(c.live_chunk());
}
