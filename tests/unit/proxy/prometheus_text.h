// A checker for the Prometheus text exposition format 0.0.4, strict enough to catch what a
// scraper would reject or misread:
//   - every line ends in '\n'; `# HELP name text` and `# TYPE name type` at most once per family,
//     TYPE before the family's first sample; other '#' lines are comments;
//   - samples `name{label="value",...} value [timestamp]` with valid metric and label names, label
//     values using only the escapes \\ \" \n, a float value (or +Inf, -Inf, NaN);
//   - a family's samples are contiguous and no series repeats;
//   - counters are >= 0; histograms have _bucket series with an `le` label, cumulative counts
//     that never decrease, a +Inf bucket equal to _count, and a _sum.
// Used by the metrics and admin tests, and (through prometheus_check.cpp) by tests/integration.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace promtext {

struct Sample {
    std::string name;
    std::vector<std::pair<std::string, std::string>> labels;  // unescaped values, in order
    double value = 0;

    std::string label(std::string_view key) const {
        for (const auto& [k, v] : labels)
            if (k == key) return v;
        return "";
    }
};

struct Family {
    std::string name;
    std::string type = "untyped";
    std::string help;
    std::vector<Sample> samples;
};

struct Parsed {
    std::vector<Family> families;  // in order of appearance
    std::vector<std::string> errors;

    bool ok() const { return errors.empty(); }
    const Family* family(std::string_view name) const {
        for (const auto& f : families)
            if (f.name == name) return &f;
        return nullptr;
    }
    // The value of the series `name` with exactly `labels`, or `missing`.
    double value(std::string_view name,
                 const std::vector<std::pair<std::string, std::string>>& labels = {},
                 double missing = -1) const;
};

Parsed parse(std::string_view text);

}  // namespace promtext
