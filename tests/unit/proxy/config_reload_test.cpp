#include "proxy/config/config_reload.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>

using proxy::Config;
using proxy::plan_reload;

namespace {

bool has(const std::vector<std::string>& lines, const std::string& text) {
    return std::any_of(lines.begin(), lines.end(),
                       [&](const std::string& l) { return l.find(text) != std::string::npos; });
}

}  // namespace

TEST_CASE("proxy/config_reload: live keys are applied, restart keys reported and kept") {
    Config running;
    Config loaded = running;
    loaded.gap_budget = 6;
    loaded.log_level = "debug";
    loaded.allow = {*policy::parse_cidr("10.0.0.0/8")};
    loaded.cache_size = running.cache_size * 2;
    loaded.listen.port = 8080;
    auto plan = plan_reload(running, loaded);
    CHECK(plan.next.gap_budget == 6);
    CHECK(plan.next.log_level == "debug");
    CHECK(plan.next.allow.size() == 1);
    CHECK(plan.next.cache_size == running.cache_size);
    CHECK(plan.next.listen.port == running.listen.port);
    CHECK(plan.applied.size() == 3);
    CHECK(has(plan.applied, "gap_budget: 8 -> 6"));
    CHECK(has(plan.applied, R"(log_level: "info" -> "debug")"));
    CHECK(plan.need_restart.size() == 2);
    CHECK(has(plan.need_restart, "cache_size"));
    CHECK(has(plan.need_restart, "listen"));
}

TEST_CASE("proxy/config_reload: nothing changed, nothing to do") {
    Config c;
    auto plan = plan_reload(c, c);
    CHECK(plan.applied.empty());
    CHECK(plan.need_restart.empty());
}

TEST_CASE("proxy/config_reload: interception can change or stop live, but not start") {
    Config on;
    Config off = on;
    off.intercept.clear();
    auto stop = plan_reload(on, off);
    CHECK(stop.next.intercept.empty());
    CHECK(has(stop.applied, "intercept"));

    auto start = plan_reload(off, on);
    CHECK(start.next.intercept.empty());  // the CA is loaded at start only
    CHECK(has(start.need_restart, "intercept"));

    Config fewer = on;
    fewer.intercept = {"example.org"};
    auto change = plan_reload(on, fewer);
    CHECK(change.next.intercept == std::vector<std::string>{"example.org"});
}

TEST_CASE("proxy/config_reload: fallback sources change live") {
    Config running;
    Config loaded = running;
    loaded.fallback_source = {"huggingface.co = https://hf-mirror.example"};
    auto plan = plan_reload(running, loaded);
    CHECK(plan.next.fallback_source == loaded.fallback_source);
    CHECK(plan.applied.size() == 1);
    CHECK(plan.need_restart.empty());
}
