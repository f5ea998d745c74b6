// The wall clock, in the two shapes proxy/ uses: whole seconds for what the store and policy/
// keep (request and response times, ages, ban expiries), fractional seconds for what the admin
// side shows (status events, access-log times, the status page).
//
// policy/ never reads a clock (STYLE.md): its callers read it here and pass `now` in. The loop's
// own monotonic time (uv_now, milliseconds) is for timers and rates, not for these.
// Thread: any.
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>

namespace proxy {

// Seconds since the Unix epoch.
inline int64_t wall_seconds() {
    return static_cast<int64_t>(std::time(nullptr));
}

// Seconds since the Unix epoch, with the fraction.
inline double wall_seconds_f() {
    using namespace std::chrono;
    return duration<double>(system_clock::now().time_since_epoch()).count();
}

}  // namespace proxy
