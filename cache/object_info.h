// The values the store hands out: what is known about one cached object.
//
// Units: lengths and offsets in bytes; times in whole seconds since the Unix epoch, always
// supplied by the caller (cache/ never reads the clock). Chunk indexes are zero-based; chunk i
// covers the half-open byte range [chunk_begin(i), chunk_begin(i) + chunk_length(i)).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "cache/object_id.h"
#include "policy/header_list.h"

namespace cache {

// 1 MiB: see docs/cache-format.md for the reasoning. Stored per object, so changing it later
// affects only objects created afterwards.
inline constexpr uint32_t kDefaultChunkSize = 1u << 20;

enum class ObjectState : uint8_t { Partial = 0, Complete = 1 };

// What dlproxy knows of a complete object's content (docs/model-hosts.md
// "Verification"). Unverified: no sha256 computed yet, or nothing announced to compare it with
// (`sha256` then holds dlproxy's own hash). Verified: the sha256 of the stored bytes equals the
// digest the origin announced. Mismatch: it differs — the object is quarantined, never a hit.
// MixedPending: a fallback source continued the fill (bytes from more than one server), and the
// sha256 verdict is not in yet: no client gets the object's last byte before it (issue 16,
// docs/recovery.md "Fallback sources"). Recorded before the first byte of the source is, so a
// restart in between still verifies before serving.
enum class ContentCheck : uint8_t { Unverified = 0, Verified = 1, Mismatch = 2, MixedPending = 3 };
std::string_view to_string(ContentCheck check);

// What a redirect told about the content behind it (X-Linked-Etag, X-Linked-Size, X-Repo-Commit,
// or Repr-Digest), kept under the redirecting request's cache key so that the answer survives
// a restart and an unreachable host (docs/model-hosts.md "Offline"). Never a secret:
// no URL query, header or token of the request is kept.
struct ResolveFacts {
    std::string sha256;        // 64 lower-case hex digits, or empty when none was announced
    uint64_t size = 0;         // announced size; 0 when unknown
    std::string location_key;  // cache key of the Location it redirected to
    std::string commit;        // X-Repo-Commit, may be empty
    int64_t seen = 0;          // seconds since the epoch

    friend bool operator==(const ResolveFacts&, const ResolveFacts&) = default;
};

// The strong validator of the stored response (RFC 9110 §8.8.1): a strong ETag (with its quotes,
// as received), else Last-Modified. Either may be empty. Used for If-Range on resume.
struct Validator {
    std::string etag;
    std::string last_modified;

    friend bool operator==(const Validator&, const Validator&) = default;
};

// What begin_object() needs from a response head.
struct ObjectHead {
    std::string key;  // the cache key (normalised URL) from policy
    uint16_t status = 200;
    policy::HeaderList headers;  // end-to-end headers to replay on a hit
    Validator validator;
    uint64_t complete_length = 0;  // the full representation length; must be known
    int64_t request_time = 0;      // RFC 9111 §4.2.3, seconds
    int64_t response_time = 0;
};

struct ObjectInfo {
    ObjectId id;
    // Changes every time the object is (re)created; calls given an ObjectInfo whose generation
    // no longer matches the index fail with Errc::Stale instead of mixing two responses.
    uint64_t generation = 0;
    std::string key;
    uint16_t status = 0;
    policy::HeaderList headers;
    Validator validator;
    uint64_t complete_length = 0;
    uint32_t chunk_size = kDefaultChunkSize;
    ObjectState state = ObjectState::Partial;
    int64_t request_time = 0;
    int64_t response_time = 0;
    int64_t created = 0;
    int64_t last_access = 0;
    uint64_t hit_count = 0;
    uint64_t bytes_present = 0;  // sum of the lengths of the chunks that have records
    // Content identity (record version 2; all three default in a version 1 record).
    ContentCheck content_check = ContentCheck::Unverified;
    std::string sha256;            // hex sha256 of the stored bytes, once computed
    std::string announced_sha256;  // hex sha256 the origin announced, when it did

    uint64_t chunk_count() const {
        return complete_length / chunk_size + (complete_length % chunk_size != 0 ? 1 : 0);
    }
    uint64_t chunk_begin(uint64_t index) const { return index * chunk_size; }
    // The length chunk `index` must have: chunk_size, except a shorter last chunk; 0 past the end.
    uint64_t chunk_length(uint64_t index) const {
        uint64_t begin = chunk_begin(index);
        if (index >= chunk_count()) return 0;
        return std::min<uint64_t>(chunk_size, complete_length - begin);
    }
    // The chunk holding byte `offset`.
    uint64_t chunk_of(uint64_t offset) const { return offset / chunk_size; }
    bool complete() const { return state == ObjectState::Complete; }
};

}  // namespace cache
