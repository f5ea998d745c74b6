// proxy/identity/fill_sha256.h: which write jobs may advance a fill's in-order sha256, and when
// the whole object is covered. The worker half (Job::add) runs inline here, in job order.
#include "proxy/identity/fill_sha256.h"

#include <doctest/doctest.h>

#include <cstddef>
#include <vector>

using proxy::FillSha256;
using Gap = FillSha256::Gap;

namespace {

std::vector<std::byte> bytes_of(std::string_view text) {
    std::vector<std::byte> out;
    for (char c : text)
        out.push_back(static_cast<std::byte>(c));
    return out;
}

// sha256("abc"), FIPS 180-2 appendix B.1.
constexpr std::string_view kAbc =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

// One write job for chunks `indices`, each holding `chunk_bytes[index]`: hashes what take() gave.
FillSha256::Job write(FillSha256& fill, std::vector<uint32_t> indices,
                      const std::vector<std::vector<std::byte>>& chunk_bytes) {
    FillSha256::Job job = fill.take(indices);
    for (size_t i = 0; i < job.chunks; ++i)
        job.add(chunk_bytes[indices[i]]);
    return job;
}

}  // namespace

TEST_CASE("proxy/fill_sha256: chunks written in order from 0 are hashed without a read-back") {
    const std::vector<std::vector<std::byte>> chunks{bytes_of("a"), bytes_of("b"), bytes_of("c")};
    FillSha256 fill;
    fill.begin();
    auto job = write(fill, {0, 1}, chunks);
    CHECK(job.chunks == 2);
    CHECK_FALSE(fill.take_covering(3));  // a job still holds the context
    fill.job_done(job, true);
    CHECK_FALSE(fill.take_covering(3));  // chunk 2 not yet hashed
    fill.job_done(write(fill, {2}, chunks), true);
    auto sha = fill.take_covering(3);
    REQUIRE(sha);
    CHECK(sha->bytes() == 3);
    CHECK(sha->finish() == kAbc);
    CHECK(fill.gap() == Gap::HandedOver);
    CHECK_FALSE(fill.take_covering(3));  // handed over once
}

TEST_CASE("proxy/fill_sha256: anything but one ordered pass falls back to the read-back") {
    const std::vector<std::vector<std::byte>> chunks(4, bytes_of("x"));
    struct Row {
        const char* what;
        std::vector<std::vector<uint32_t>> jobs;  // each job's chunk indices, in job order
        Gap gap;
    };
    const Row rows[] = {
        {"a fill resumed after a restart starts mid-object", {{2, 3}}, Gap::OutOfOrder},
        {"a range fill's chunk before the main fill's", {{0}, {3}, {1, 2}}, Gap::OutOfOrder},
        {"out of order inside one batch", {{0, 2, 1}}, Gap::OutOfOrder},
        {"a chunk written twice (lost on disk, filled again)", {{0, 1}, {1}}, Gap::Rewritten},
    };
    for (const Row& row : rows) {
        CAPTURE(row.what);
        FillSha256 fill;
        fill.begin();
        for (const auto& indices : row.jobs)
            fill.job_done(write(fill, indices, chunks), true);
        CHECK(fill.gap() == row.gap);
        CHECK_FALSE(fill.take_covering(4));
    }
}

TEST_CASE("proxy/fill_sha256: not begun, a failed write, two jobs at once") {
    const std::vector<std::vector<std::byte>> chunks(2, bytes_of("x"));
    FillSha256 never;  // a stored partial or complete object: no new object began at byte 0
    CHECK_FALSE(never.take({std::vector<uint32_t>{0}}));
    CHECK(never.gap() == Gap::NotBegun);
    CHECK_FALSE(never.take_covering(0));

    FillSha256 failed;
    failed.begin();
    failed.job_done(write(failed, {0, 1}, chunks), false);
    CHECK(failed.gap() == Gap::WriteFailed);
    CHECK_FALSE(failed.take_covering(2));

    FillSha256 overlap;
    overlap.begin();
    auto first = write(overlap, {0}, chunks);
    CHECK_FALSE(overlap.take({std::vector<uint32_t>{1}}));  // never two threads on one context
    CHECK(overlap.gap() == Gap::Overlap);
    overlap.job_done(first, true);
    CHECK_FALSE(overlap.take_covering(2));
}

TEST_CASE("proxy/fill_sha256: a new object starts afresh; an old job's end is ignored") {
    const std::vector<std::vector<std::byte>> chunks{bytes_of("abc")};
    FillSha256 fill;
    fill.begin();
    auto old_job = write(fill, {0}, chunks);
    fill.begin();                   // the object was replaced while that job ran
    fill.job_done(old_job, false);  // ...and its failure is the old object's
    CHECK(fill.gap() == Gap::None);
    fill.job_done(write(fill, {0}, chunks), true);
    auto sha = fill.take_covering(1);
    REQUIRE(sha);
    CHECK(sha->finish() == kAbc);
}

TEST_CASE("proxy/fill_sha256: an empty object is covered by the empty hash") {
    FillSha256 fill;
    fill.begin();
    auto sha = fill.take_covering(0);
    REQUIRE(sha);
    CHECK(sha->finish() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE(
    "proxy/fill_sha256: a skipped fill hashes nothing, and a job of the object before it "
    "does not revive the hash") {
    const std::vector<std::vector<std::byte>> chunks{bytes_of("a"), bytes_of("b")};
    FillSha256 fill;
    fill.begin();
    auto earlier = write(fill, {0}, chunks);  // still running when the next object starts
    fill.skip();
    CHECK(fill.gap() == Gap::NotWanted);
    const std::vector<uint32_t> both{0, 1}, first{0};
    CHECK_FALSE(fill.take(both));
    fill.job_done(earlier, true);
    CHECK_FALSE(fill.take(first));
    CHECK_FALSE(fill.take_covering(2));
    CHECK(fill.gap() == Gap::NotWanted);
    CHECK(fill.hashed_chunks() == 0);
    fill.begin();  // the next object wants one again
    fill.job_done(write(fill, {0, 1}, chunks), true);
    CHECK(fill.take_covering(2));
}
