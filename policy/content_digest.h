// Content identity from response fields: the sha256 an origin announces for the representation
// behind a URL, and the cache key that names an object by its content.
//
// Sources, in order of preference (docs/model-hosts.md "Content identity"):
//   - Repr-Digest: sha-256=:<base64>:   RFC 9530 §3 (a structured dictionary)
//   - Digest: SHA-256=<base64>          RFC 3230 (obsoleted by RFC 9530, still sent)
//   - X-Linked-Etag: "<64 hex>"         Hugging Face's resolve redirects: the LFS object's sha256
//     (git's own ETag of a small file is a 40-hex sha1 and is ignored)
//
// Pure: no I/O. Every digest is returned as 64 lower-case hex digits.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "policy/header_list.h"

namespace policy {

// The sha256 the fields announce, or nullopt when none does (or it is malformed).
std::optional<std::string> announced_sha256(const HeaderList& headers);

// X-Linked-Size (Hugging Face) as a byte count; nullopt when absent or malformed.
std::optional<uint64_t> announced_size(const HeaderList& headers);

// "sha256:<hex>": the key of an object stored by its content. `hex` must be 64 hex digits.
std::string content_key(std::string_view sha256_hex);
// The hex digest of a content key, or nullopt for any other key.
std::optional<std::string> sha256_of_content_key(std::string_view key);

// 64 hex digits (either case) → lower case; nullopt otherwise.
std::optional<std::string> normalise_sha256_hex(std::string_view text);

namespace detail {
// Standard base64 (RFC 4648 §4, padding optional); nullopt on any other character.
std::optional<std::string> decode_base64(std::string_view text);
}  // namespace detail

}  // namespace policy
