// How far a fill may run ahead of the clients reading it.
//
// A fill normally runs at the origin's speed and a client slower than it reads the rest back
// from disk. Inside an intercepted HTTPS tunnel that read-back competes for the same two cores
// as the two TLS legs: holding the fill at most `window` bytes ahead of its furthest client,
// with those bytes kept in memory, made cold intercepted downloads about a tenth faster
// (docs/https.md, "Throughput"). The fill is never held for a client that reads bytes stored
// before the running transfer began (it would keep the origin connection idle while the client
// reads from disk), nor for one that has stopped reading for `give_up_ms` (the fill then goes
// on to disk, as without pacing). A held fill runs again once the client is within half the
// window, so it is not paused and resumed for every record; and after `max_hold_ms` it runs for
// `breathe_ms` whatever the client does, so that an origin closing connections idle for a
// minute never sees ours idle that long behind a very slow client.
//
// Units: byte offsets in the object, milliseconds. Pure: the fetch knows its clients.
#pragma once

#include <cstdint>
#include <optional>

namespace policy {

struct FillPaceInput {
    uint64_t fill_position = 0;  // the next byte the fill receives
    uint64_t run_begin = 0;      // where the running transfer began
    // The furthest byte an attached client has been sent (nullopt: none is reading the body).
    std::optional<uint64_t> lead;
    uint64_t window = 16ull << 20;   // 0: never hold the fill
    uint64_t ms_since_progress = 0;  // since the furthest client last received bytes
    uint64_t give_up_ms = 5000;
    bool held = false;     // the fill is held now...
    uint64_t ms_held = 0;  // ...since this long
    uint64_t max_hold_ms = 10000;
    uint64_t ms_since_breath = UINT64_MAX;  // since the last Breathe decision
    uint64_t breathe_ms = 250;
};

enum class FillPace {
    Run,      // let the fill run (resume it if held)
    Hold,     // pause the transfer until a later decision says otherwise
    Breathe,  // held too long: run, and do not hold again for breathe_ms
};

FillPace decide_fill_pace(const FillPaceInput& in);

// Whether chunk [chunk_begin, chunk_end) is within the window ahead of the furthest client, and
// so kept in memory for it after it is written.
bool within_lead_window(uint64_t chunk_begin, uint64_t chunk_end, std::optional<uint64_t> lead,
                        uint64_t window);

}  // namespace policy
