// Errors of the cache store, as values.
//
// Every call the proxy makes into cache/ returns `cache::Result<T>`; nothing on those paths
// throws. An `Error` is the outcome class (`Errc`) plus the native code that produced it — an
// errno value or an LMDB `MDB_*` code — so a log line can say exactly what the OS or LMDB said
// while callers branch on the class alone (`r.error() == cache::Errc::Missing`).
#pragma once

#include <string>
#include <string_view>

#include "policy/result.h"

namespace cache {

enum class Errc {
    Missing,           // the chunk, body file or object is not there (or was short): fetch again
    ChecksumMismatch,  // a chunk's bytes did not hash to its record: the record was dropped
    Stale,             // the object was replaced or removed since this ObjectInfo was read
    NoSpace,           // ENOSPC or EDQUOT writing a body file: stop caching, keep streaming
    IndexFull,         // MDB_MAP_FULL: the LMDB map is full
    BadIndex,          // the index is unreadable, corrupt, or not a dlproxy index
    NewerSchema,       // the index was written by a newer dlproxy (native = its schema version)
    BadRecord,         // a record's bytes failed validation while decoding
    InvalidArgument,   // the caller broke a precondition (index out of range, wrong length, ...)
    Incomplete,        // mark_complete() while some chunks are missing
    ReadOnly,          // a write on a store opened read-only
    Io,                // any other errno from the file system (native = errno)
    Index,             // any other LMDB failure (native = MDB_* code)
};

std::string_view to_string(Errc e);

struct Error {
    Errc code;
    int native = 0;  // errno or MDB_* code; 0 when the error is our own finding

    friend bool operator==(const Error& a, Errc b) { return a.code == b; }
};

// One line for logs and the CLI: "no space left (errno 28: No space left on device)".
std::string to_string(const Error& e);

template <class T>
using Result = policy::Result<T, Error>;

inline auto fail(Errc code, int native = 0) {
    return policy::fail(Error{code, native});
}

// Classifies an errno value: ENOSPC/EDQUOT → NoSpace, ENOENT → Missing, else Io.
Error from_errno(int err);

// Classifies an LMDB return code: MDB_MAP_FULL → IndexFull, MDB_INVALID / MDB_CORRUPTED /
// MDB_VERSION_MISMATCH / MDB_PAGE_NOTFOUND → BadIndex, errno values via from_errno, else Index.
Error from_mdb(int rc);

}  // namespace cache
