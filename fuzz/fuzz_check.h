// What every fuzz target shares: the property check and a line splitter for text inputs.
//
// FUZZ_CHECK(cond) states a property that must hold for every input. A violation prints the
// condition and aborts: libFuzzer reports the abort as a crash and saves the input, and a replay
// test (replay_main.cpp) fails. It is not `assert`, which NDEBUG would silence.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#define FUZZ_CHECK(cond)                                                   \
    do {                                                                   \
        if (!(cond)) ::fuzz::property_violated(#cond, __FILE__, __LINE__); \
    } while (0)

// FUZZ_OPEN_FINDING(cond): `cond` recognises the inputs of a reported, still open finding
// (docs/fuzzing.md lists them; fuzz/corpus/<target>/crash-<what> reproduces each). The libFuzzer
// build skips the properties for such inputs, so that a run explores past a known bug instead of
// stopping at it every time, unless FUZZ_CHECK_OPEN_FINDINGS is set in the environment. The
// replay build never skips. Remove the guard together with the fix.
#ifdef FUZZ_LIBFUZZER
#define FUZZ_OPEN_FINDING(cond) (::fuzz::skip_open_findings() && (cond))
#else
#define FUZZ_OPEN_FINDING(cond) (false && (cond))
#endif

namespace fuzz {

[[noreturn]] inline void property_violated(const char* what, const char* file, int line) {
    std::fprintf(stderr, "%s:%d: property violated: %s\n", file, line, what);
    std::abort();
}

inline bool skip_open_findings() {
    static const bool skip = std::getenv("FUZZ_CHECK_OPEN_FINDINGS") == nullptr;
    return skip;
}

// Splits on '\n' (a trailing '\r' stays part of the line: it is input like any other byte).
inline std::vector<std::string_view> lines(std::string_view text) {
    std::vector<std::string_view> out;
    while (!text.empty()) {
        size_t nl = text.find('\n');
        out.push_back(text.substr(0, nl));
        if (nl == std::string_view::npos) break;
        text.remove_prefix(nl + 1);
    }
    return out;
}

}  // namespace fuzz
