#include "proxy/config/config.h"
#include "proxy/config/config_key.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using proxy::Config;
using proxy::ConfigError;

namespace {

proxy::ParsedArgs parse(std::vector<std::string> args) {
    args.insert(args.begin(), "dlproxy");
    std::vector<char*> argv;
    for (auto& a : args)
        argv.push_back(a.data());
    return proxy::parse_args(static_cast<int>(argv.size()), argv.data());
}

}  // namespace

TEST_CASE("proxy/config: embedded defaults") {
    Config c;
    CHECK(c.listen.to_string() == "127.0.0.1:3128");
    CHECK(c.admin_listen.to_string() == "127.0.0.1:3129");
    CHECK(c.connect_ports == std::vector<uint16_t>{443});
    CHECK(c.allow.size() == 2);
    CHECK(c.gap_budget == 8);
}

TEST_CASE("proxy/config: TOML keys override defaults") {
    Config c;
    proxy::apply_toml(c, R"(
listen = "127.0.0.1:0"
cache_size = "2GiB"
connect_ports = [443, 8443]
allow = ["10.0.0.0/8"]
gap_budget = 3.5
retry_max_attempts = 7
)",
                      "test.toml");
    CHECK(c.listen.port == 0);
    CHECK(c.cache_size == (2ull << 30));
    CHECK(c.connect_ports == std::vector<uint16_t>{443, 8443});
    REQUIRE(c.allow.size() == 1);
    CHECK(c.allow[0].to_string() == "10.0.0.0/8");
    CHECK(c.gap_budget == 3.5);
    CHECK(c.retry_max_attempts == 7);
}

TEST_CASE("proxy/config: bad TOML is a ConfigError naming the problem") {
    const char* bad[] = {
        "listen = \"localhost:80\"",    // listen needs an IP literal
        "listen = \"127.0.0.1\"",       // no port
        "cache_size = \"12 parsecs\"",  // unit
        "connect_ports = [0]",
        "allow = [\"300.0.0.0/8\"]",
        "max_connections = 0",
        "no_such_key = 1",
        "listen = ",  // syntax error
    };
    for (const char* text : bad) {
        CAPTURE(text);
        Config c;
        CHECK_THROWS_AS(proxy::apply_toml(c, text, "bad.toml"), ConfigError);
    }
}

TEST_CASE("proxy/config: to_toml re-parses to the same configuration") {
    Config c;
    proxy::apply_toml(c, "cache_size = \"3GiB\"\nconnect_ports = [443, 563]\n", "a.toml");
    Config again;
    proxy::apply_toml(again, c.to_toml(), "b.toml");
    CHECK(again.to_toml() == c.to_toml());
}

TEST_CASE("proxy/config: flags override, usage errors exit 2") {
    auto ok = parse({"--listen", "127.0.0.1:0", "--allow", "192.168.0.0/16", "--allow", "127.0.0.1",
                     "--connect-ports", "443,8443", "--gap-budget", "2"});
    CHECK(ok.exit_code == -1);
    CHECK(ok.config.listen.port == 0);
    CHECK(ok.config.allow.size() == 2);
    CHECK(ok.config.connect_ports == std::vector<uint16_t>{443, 8443});
    CHECK(ok.config.gap_budget == 2);
    CHECK(parse({"--no-such-flag"}).exit_code == 2);
    CHECK_THROWS_AS(parse({"--listen", "nowhere"}), ConfigError);
    CHECK_THROWS_AS(parse({"--log-level", "loud"}), ConfigError);
    CHECK_THROWS_AS(parse({"--gap-budget", "-1"}), ConfigError);
}

TEST_CASE("proxy/config: interception keys and flags") {
    Config c;
    CHECK(c.intercept == policy::default_intercept_patterns());
    CHECK(c.ca_dir.empty());
    proxy::apply_toml(c, R"(
intercept = ["127.0.0.1", "*.example.com"]
ca_dir = "/var/lib/dlproxy/ca"
upstream_ca_file = "/etc/corp-root.pem"
)",
                      "i.toml");
    CHECK(c.intercept == std::vector<std::string>{"127.0.0.1", "*.example.com"});
    CHECK(c.ca_dir == "/var/lib/dlproxy/ca");
    CHECK(c.upstream_ca_file == "/etc/corp-root.pem");
    Config again;
    proxy::apply_toml(again, c.to_toml(), "again.toml");
    CHECK(again.intercept == c.intercept);
    CHECK(again.to_toml() == c.to_toml());

    Config off;
    proxy::apply_toml(off, "no_intercept = true", "off.toml");
    CHECK(off.intercept.empty());
    Config off_again;
    proxy::apply_toml(off_again, off.to_toml(), "off2.toml");
    CHECK(off_again.intercept.empty());
    CHECK_THROWS_AS(proxy::apply_toml(off, "intercept = [\"a b\"]", "bad.toml"), ConfigError);
    CHECK_THROWS_AS(proxy::apply_toml(off, "intercept = \"hf.co\"", "bad.toml"), ConfigError);

    auto flags = parse({"--intercept", "hf.co", "--intercept", "*.hf.co", "--ca-dir", "/tmp/ca"});
    CHECK(flags.config.intercept == std::vector<std::string>{"hf.co", "*.hf.co"});
    CHECK(flags.config.ca_dir == "/tmp/ca");
    CHECK(parse({"--no-intercept"}).config.intercept.empty());
    CHECK_THROWS_AS(parse({"--intercept", "hf.co", "--no-intercept"}), ConfigError);
    CHECK_THROWS_AS(parse({"--intercept", "*"}), ConfigError);
}

TEST_CASE("proxy/config: fill_ahead_window key and flag") {
    Config c;
    CHECK(c.fill_ahead_window == 16ull << 20);
    proxy::apply_toml(c, "fill_ahead_window = \"4MiB\"\n", "x.toml");
    CHECK(c.fill_ahead_window == 4ull << 20);
    Config again;
    proxy::apply_toml(again, c.to_toml(), "rendered.toml");
    CHECK(again.fill_ahead_window == 4ull << 20);
    proxy::apply_toml(c, "fill_ahead_window = 0\n", "x.toml");
    CHECK(c.fill_ahead_window == 0);
    for (const char* text : {"fill_ahead_window = \"2GiB\"", "fill_ahead_window = -1",
                             "fill_ahead_window = \"much\"", "fill_ahead_window = 1.5"}) {
        CAPTURE(text);
        Config bad;
        CHECK_THROWS_AS(proxy::apply_toml(bad, text, "x.toml"), ConfigError);
    }
    CHECK(parse({"--fill-ahead-window", "1MiB"}).config.fill_ahead_window == 1ull << 20);
    CHECK(parse({"--fill-ahead-window", "0"}).config.fill_ahead_window == 0);
    CHECK_THROWS_AS(parse({"--fill-ahead-window", "2GiB"}), ConfigError);
}

TEST_CASE("proxy/config: background-fill and range-fetch keys and flags") {
    Config c;
    CHECK(c.range_wait_distance == 16ull << 20);
    CHECK(c.max_range_fetches == 4);
    proxy::apply_toml(c, "range_wait_distance = \"64MiB\"\nmax_range_fetches = 0\n", "x.toml");
    CHECK(c.range_wait_distance == 64ull << 20);
    CHECK(c.max_range_fetches == 0);
    Config again;
    proxy::apply_toml(again, c.to_toml(), "rendered.toml");
    CHECK(again.range_wait_distance == c.range_wait_distance);
    CHECK(again.max_range_fetches == 0);
    for (const char* text : {"max_range_fetches = 65", "max_range_fetches = -1",
                             "range_wait_distance = \"lots\"", "max_range_fetches = 1.5"}) {
        CAPTURE(text);
        Config bad;
        CHECK_THROWS_AS(proxy::apply_toml(bad, text, "x.toml"), ConfigError);
    }
    auto p = parse({"--range-wait-distance", "1MiB", "--max-range-fetches", "2"});
    CHECK(p.exit_code < 0);
    CHECK(p.config.range_wait_distance == 1ull << 20);
    CHECK(p.config.max_range_fetches == 2);
    // Whole numbers only, checked before any conversion (NaN or 1e300 cast to an integer is UB).
    for (std::string value : {"nan", "1e300", "-1", "2.5", "65"}) {
        CAPTURE(value);
        CHECK_THROWS_AS(parse({"--max-range-fetches", value}), ConfigError);
        CHECK_THROWS_AS(parse({"--max-background-fills", value == "65" ? "100001" : value}),
                        ConfigError);
    }
}

// The keys whose value is one of two words (codec::TwoWords): each word reads back, a render
// reads back, anything else is refused from a file and from a flag.
TEST_CASE("proxy/config: two-word keys (cache durability, which objects get a sha256)") {
    struct Row {
        std::string key, flag, yes, no;
        bool Config::*member;
        bool by_default;
    };
    const Row rows[] = {
        {"cache_durability", "--cache-durability", "sync", "nosync", &Config::cache_sync, true},
        // By default only announced digests are checked.
        {"content_sha256", "--content-sha256", "all", "announced", &Config::content_sha256_all,
         false},
    };
    for (const Row& r : rows) {
        CAPTURE(r.key);
        CHECK(Config{}.*r.member == r.by_default);
        Config c;
        const std::string other = r.by_default ? r.no : r.yes;
        proxy::apply_toml(c, r.key + " = \"" + other + "\"", "x.toml");
        CHECK(c.*r.member == !r.by_default);
        Config again;
        proxy::apply_toml(again, c.to_toml(), "rendered.toml");
        CHECK(again.*r.member == !r.by_default);
        Config bad;
        CHECK_THROWS_AS(proxy::apply_toml(bad, r.key + " = \"fast\"", "x.toml"), ConfigError);
        CHECK_THROWS_AS(proxy::apply_toml(bad, r.key + " = 1", "x.toml"), ConfigError);
        CHECK(parse({r.flag, r.yes}).config.*r.member);
        CHECK_FALSE(parse({r.flag, r.no}).config.*r.member);
        CHECK_THROWS_AS(parse({r.flag, "none"}), ConfigError);
    }
}

TEST_CASE("proxy/config: a negative zero renders as 0 (fuzz finding 10)") {
    Config c;
    proxy::apply_toml(c, "grace_period = -0e300\nbackground_fill_min_percent = -0.0\n", "x.toml");
    std::string rendered = c.to_toml();
    CHECK(rendered.find("grace_period = 0\n") != std::string::npos);
    CHECK(rendered.find("background_fill_min_percent = 0\n") != std::string::npos);
    Config again;
    proxy::apply_toml(again, rendered, "rendered.toml");
    CHECK(again.to_toml() == rendered);
}

TEST_CASE("proxy/config: every key of the table is a flag, a TOML key and a rendered line") {
    const std::string rendered = Config{}.to_toml();
    std::vector<std::string> names;
    for (const auto& key : proxy::config_keys()) {
        CAPTURE(key.name);
        CHECK_FALSE(key.help.empty());
        for (const auto& seen : names)
            CHECK(seen != key.name);  // declared once
        names.emplace_back(key.name);
        if (key.render && !key.secret)
            CHECK(rendered.find("\n" + std::string(key.name) + " = ") != std::string::npos);
    }
    // --help lists every flag with its default.
    auto help = parse({"--help"});
    CHECK(help.exit_code == 0);  // (printed on stdout)
}

TEST_CASE("proxy/config: fallback_source entries, from TOML and repeated flags") {
    Config c;
    proxy::apply_toml(c, R"(
fallback_source = ["huggingface.co = https://hf-mirror.example/hf", "cdn.example = http://10.0.0.5"]
)",
                      "f.toml");
    CHECK(c.fallback_source ==
          std::vector<std::string>{"huggingface.co = https://hf-mirror.example/hf",
                                   "cdn.example = http://10.0.0.5"});
    Config again;
    proxy::apply_toml(again, c.to_toml(), "again.toml");
    CHECK(again.fallback_source == c.fallback_source);
    CHECK(Config{}.fallback_source.empty());

    auto flags = parse({"--fallback-source", "hf.co = http://m.example", "--fallback-source",
                        "huggingface.co = http://m.example"});
    CHECK(flags.exit_code < 0);
    CHECK(flags.config.fallback_source.size() == 2);
    for (const char* bad : {"huggingface.co", "huggingface.co = ftp://m.example",
                            "huggingface.co = https://huggingface.co/x"}) {
        CAPTURE(bad);
        try {
            parse({"--fallback-source", bad});
            FAIL("accepted");
        } catch (const ConfigError& e) {
            // The message names the flag and the entry, then what is wrong.
            const std::string what = e.what();
            CHECK(what.find("--fallback-source: '" + std::string(bad) + "': ") == 0);
            CHECK(what.size() >
                  std::string("--fallback-source: '").size() + std::string(bad).size() + 4);
        }
    }
    CHECK_THROWS_AS(proxy::apply_toml(c, "fallback_source = [\"x.example\"]", "bad.toml"),
                    ConfigError);
}

TEST_CASE("proxy/config: resolve, connect_to and the parent proxy") {
    Config c;
    proxy::apply_toml(c, R"(
resolve = ["huggingface.co:443:127.0.0.1", "cdn.example:443:[::1],127.0.0.2"]
connect_to = ["huggingface.co:443:127.0.0.1:40001"]
upstream_proxy = "http://squid.lan:3128"
upstream_no_proxy = "localhost,.lan"
)",
                      "r.toml");
    CHECK(c.resolve.size() == 2);
    CHECK(c.connect_to == std::vector<std::string>{"huggingface.co:443:127.0.0.1:40001"});
    CHECK(c.upstream_proxy == "http://squid.lan:3128");
    Config again;
    proxy::apply_toml(again, c.to_toml(), "again.toml");
    CHECK(again.to_toml() == c.to_toml());
    CHECK(again.resolve == c.resolve);

    auto flags =
        parse({"--resolve", "huggingface.co:443:127.0.0.1", "--resolve", "hf.co:443:127.0.0.1",
               "--connect-to", "::127.0.0.1:8443", "--upstream-proxy", "socks5h://127.0.0.1:1080",
               "--upstream-no-proxy", "*"});
    CHECK(flags.exit_code < 0);
    CHECK(flags.config.resolve.size() == 2);
    CHECK(flags.config.upstream_no_proxy == "*");
    for (std::vector<std::string> bad :
         {std::vector<std::string>{"--resolve", "huggingface.co:443"},
          {"--resolve", "huggingface.co:443:localhost"},
          {"--connect-to", "huggingface.co:443:127.0.0.1"},
          {"--upstream-proxy", "squid.lan:3128"},
          {"--upstream-proxy", "ftp://squid.lan"}}) {
        CAPTURE(bad[1]);
        try {
            parse(bad);
            FAIL("accepted");
        } catch (const ConfigError& e) {
            // The message names the flag, the value and what was expected.
            CHECK(std::string(e.what()).find(bad[0] + ": '" + bad[1] + "'") == 0);
        }
    }
    CHECK_THROWS_AS(proxy::apply_toml(c, "resolve = \"hf.co:443:127.0.0.1\"", "x.toml"),
                    ConfigError);
}

TEST_CASE("proxy/config: a flag given as 0 is checked, not ignored") {
    CHECK_THROWS_AS(parse({"--gap-budget", "0"}), ConfigError);
    CHECK_THROWS_AS(parse({"--max-connections", "0"}), ConfigError);
    CHECK(parse({"--max-range-fetches", "0"}).config.max_range_fetches == 0);
}
