// Byte sizes as people write them in flags and config files: "50GiB", "512MiB", "1.5G", "4096".
//
// Binary units (KiB, MiB, GiB, TiB, and the bare K, M, G, T) are powers of 1024; the SI units
// (kB/KB, MB, GB, TB) are powers of 1000. Units are case-insensitive; a trailing "B" alone means
// bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "policy/result.h"

namespace policy {

enum class SizeErrc { Empty, BadNumber, BadUnit, Overflow };

std::string_view to_string(SizeErrc e);

Result<uint64_t, SizeErrc> parse_byte_size(std::string_view text);

// The largest binary unit that keeps the figure at or above 1, with up to one decimal:
// 0 → "0B", 1536 → "1.5KiB", 53687091200 → "50GiB".
std::string format_byte_size(uint64_t bytes);

}  // namespace policy
