#include "policy/eviction.h"

#include <doctest/doctest.h>

#include <array>
#include <string>

using namespace policy;

TEST_CASE("policy/eviction: plan_eviction") {
    using Idx = std::vector<size_t>;
    struct Row {
        const char* name;
        std::vector<EvictionEntry> entries;
        uint64_t used, budget;
        Idx victims;
        uint64_t freed;
        bool fits;
    };
    const std::vector<EvictionEntry> three = {{100, 30, false}, {200, 10, false}, {300, 20, false}};
    const Row rows[] = {
        {"under budget", three, 600, 600, {}, 0, true},
        {"oldest first, just enough", three, 600, 400, {1}, 200, true},
        {"two needed", three, 600, 350, {1, 2}, 500, true},
        {"everything", three, 600, 0, {1, 2, 0}, 600, true},
        {"one byte over", three, 600, 599, {1}, 200, true},
        {"in use is never chosen",
         {{100, 30, false}, {200, 10, true}, {300, 20, false}},
         600,
         400,
         {2},
         300,
         true},
        {"in use alone exceeds budget",
         {{100, 30, true}, {200, 10, false}},
         300,
         50,
         {1},
         200,
         false},
        {"nothing evictable", {{100, 1, true}}, 100, 0, {}, 0, false},
        {"no candidates", {}, 100, 0, {}, 0, false},
        {"ties keep input order",
         {{10, 5, false}, {10, 5, false}, {10, 5, false}},
         30,
         15,
         {0, 1},
         20,
         true},
        {"negative times are older", {{10, -5, false}, {10, 0, false}}, 20, 10, {0}, 10, true},
        {"zero-byte entries cost nothing",
         {{0, 1, false}, {10, 2, false}},
         10,
         0,
         {0, 1},
         10,
         true},
        {"counts disagree: entry larger than used", {{1000, 1, false}}, 10, 5, {0}, 1000, true},
        {"saturating sums",
         {{UINT64_MAX, 1, false}, {UINT64_MAX, 2, false}},
         UINT64_MAX,
         0,
         {0},
         UINT64_MAX,
         true},
        {"uncounted bytes", {{10, 1, false}}, 1000, 500, {0}, 10, false},
    };
    for (const auto& row : rows) {
        INFO(std::string(row.name));
        auto plan = plan_eviction(row.entries, row.used, row.budget);
        CHECK(plan.victims == row.victims);
        CHECK(plan.bytes_freed == row.freed);
        CHECK(plan.fits == row.fits);
    }
}

TEST_CASE("policy/eviction: choose_victims carries the caller's ids") {
    using Id = std::array<unsigned char, 16>;
    const Id a{1}, b{2}, c{3};
    std::vector<EvictionCandidate<Id>> candidates = {
        {a, 100, 3, false}, {b, 100, 1, true}, {c, 100, 2, false}};
    CHECK(choose_victims(candidates, 300, 150) == std::vector<Id>{c, a});
    CHECK(choose_victims(candidates, 300, 300).empty());
    std::vector<EvictionCandidate<int>> ints = {{7, 5, 2, false}, {8, 5, 1, false}};
    CHECK(choose_victims(std::span<const EvictionCandidate<int>>(ints), 10, 5) ==
          std::vector<int>{8});
}
