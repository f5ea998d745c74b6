// The oldest error on OpenSSL's thread-local queue as text, clearing the queue; `fallback` when
// it is empty. Shared by the CA (certificate_authority.cpp) and TLS sessions (tls_session.cpp).
#pragma once

#include <openssl/err.h>

#include <string>
#include <string_view>

namespace proxy::tls {

inline std::string openssl_error(std::string_view fallback = {}) {
    unsigned long code = ERR_get_error();
    ERR_clear_error();
    if (code == 0) return std::string(fallback);
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    return buf;
}

}  // namespace proxy::tls
