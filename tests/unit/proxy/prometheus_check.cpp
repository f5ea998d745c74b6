// prometheus_check: reads a Prometheus text page on stdin, checks it with promtext::parse and
// prints {"errors": [...], "samples": [{"name", "labels": {...}, "value"}]} as JSON (a value
// that is not finite is written as a string: "+Inf", "-Inf", "NaN"). Exit status 1 when the page
// has errors. tests/integration/test_ctl.py checks dlproxy's /metrics with it.
#include <nlohmann/json.hpp>

#include <cmath>
#include <iostream>
#include <iterator>

#include "tests/unit/proxy/prometheus_text.h"

int main() {
    std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    promtext::Parsed parsed = promtext::parse(text);
    nlohmann::json samples = nlohmann::json::array();
    for (const auto& family : parsed.families) {
        for (const auto& s : family.samples) {
            nlohmann::json labels = nlohmann::json::object();
            for (const auto& [k, v] : s.labels)
                labels[k] = v;
            nlohmann::json value = s.value;
            if (std::isnan(s.value)) value = "NaN";
            if (std::isinf(s.value)) value = s.value > 0 ? "+Inf" : "-Inf";
            samples.push_back({{"name", s.name},
                               {"family", family.name},
                               {"type", family.type},
                               {"labels", labels},
                               {"value", value}});
        }
    }
    nlohmann::json out = {{"errors", parsed.errors}, {"samples", samples}};
    std::cout << out.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return parsed.ok() ? 0 : 1;
}
