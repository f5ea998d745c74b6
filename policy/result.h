// Result<T, E>: the error-or-value type used across dlproxy.
//
// tl::expected (Debian libexpected-dev) rather than std::expected because clang 14, which builds
// the fuzzers, does not ship std::expected. Each module declares its own `enum class Errc` with a
// to_string(); a Result carries one of those.
#pragma once

#include <tl/expected.hpp>

namespace policy {

template <class T, class E>
using Result = tl::expected<T, E>;

template <class E>
auto fail(E e) {
    return tl::make_unexpected(e);
}

}  // namespace policy
