// Background fill: whether a fill whose last client has gone keeps fetching the object.
//
// By default it does (a lab of machines, or a launcher that restarts, comes back for the same
// object: the bytes should be there). `Never` stops it at once; `Threshold` is Squid's
// quick_abort: continue when few bytes remain or most of the object is already present. Every
// mode is bounded by the number of fills already running without clients: past the bound the
// newly orphaned fill stops and keeps what it has, so a burst of abandoned downloads cannot
// hold the origin link indefinitely.
//
// Units: bytes; percentages 0..100. Pure: the caller counts the fills and the bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace policy {

enum class BackgroundFillMode { Always, Never, Threshold };

std::string_view to_string(BackgroundFillMode m);
// "always", "never" or "threshold"; nullopt for anything else.
std::optional<BackgroundFillMode> parse_background_fill_mode(std::string_view text);

struct BackgroundFillConfig {
    BackgroundFillMode mode = BackgroundFillMode::Always;
    // Threshold mode: continue when at least this share of the object is present...
    double min_percent = 50;
    // ...or when at most this many bytes remain to fetch.
    uint64_t max_remaining = 64ull << 20;
    // Fills allowed to run without clients at once (0: none, whatever the mode).
    uint32_t max_fills = 16;
};

enum class BackgroundFillReason {
    ModeAlways,        // continue: configured so
    FewBytesRemain,    // continue: remaining <= max_remaining
    MostlyPresent,     // continue: present >= min_percent
    ModeNever,         // stop: configured so
    TooMuchRemains,    // stop: threshold mode, neither condition holds
    TooManyFills,      // stop: max_fills background fills already run
    OnlyARangeWanted,  // stop: a cold range started it, and neither threshold holds
};

std::string_view to_string(BackgroundFillReason r);

struct BackgroundFillDecision {
    bool keep_filling = false;
    BackgroundFillReason reason = BackgroundFillReason::ModeNever;
};

// How the fill began. A fill started from a cold range (policy/cold_range.h: a client asked for
// a part of an object nobody held) keeps going without clients only under the threshold rules,
// even in Always mode: a client that reads a safetensors header or a 64 MiB slice of a 10 GB
// file must not make the origin send the rest (Traffic Server and nginx's slice fetch only what
// is asked). In Never mode it stops as any fill does.
enum class FillOrigin { WholeObject, ColdRange };

// The last client of a fill has gone. `bytes_present`: bytes of the object already held (on
// disk or on their way there); `complete_length`: the object's size; `running`: other fills
// already running without clients.
BackgroundFillDecision decide_background_fill(const BackgroundFillConfig& config,
                                              uint64_t bytes_present, uint64_t complete_length,
                                              uint32_t running,
                                              FillOrigin origin = FillOrigin::WholeObject);

}  // namespace policy
