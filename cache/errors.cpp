#include "cache/errors.h"
#include "cache/object_info.h"

#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <lmdb.h>

namespace cache {

std::string_view to_string(Errc e) {
    switch (e) {
        case Errc::Missing:
            return "missing";
        case Errc::ChecksumMismatch:
            return "checksum mismatch";
        case Errc::Stale:
            return "object replaced or removed";
        case Errc::NoSpace:
            return "no space left";
        case Errc::IndexFull:
            return "index map full";
        case Errc::BadIndex:
            return "unreadable or foreign index";
        case Errc::NewerSchema:
            return "index schema is newer than this build";
        case Errc::BadRecord:
            return "malformed record";
        case Errc::InvalidArgument:
            return "invalid argument";
        case Errc::Incomplete:
            return "object incomplete";
        case Errc::ReadOnly:
            return "store is read-only";
        case Errc::Io:
            return "I/O error";
        case Errc::Index:
            return "index error";
    }
    return "unknown cache error";
}

std::string to_string(const Error& e) {
    if (e.native == 0) return std::string(to_string(e.code));
    if (e.code == Errc::NewerSchema) {
        return fmt::format("{} (schema version {})", to_string(e.code), e.native);
    }
    // mdb_strerror covers both MDB_* codes (negative) and errno values (positive).
    const char* label = e.native < 0 ? "mdb" : "errno";
    return fmt::format("{} ({} {}: {})", to_string(e.code), label, e.native,
                       mdb_strerror(e.native));
}

Error from_errno(int err) {
    switch (err) {
        case ENOSPC:
        case EDQUOT:
            return {Errc::NoSpace, err};
        case ENOENT:
            return {Errc::Missing, err};
        case EROFS:
            return {Errc::ReadOnly, err};
        default:
            return {Errc::Io, err};
    }
}

Error from_mdb(int rc) {
    switch (rc) {
        case MDB_MAP_FULL:
            return {Errc::IndexFull, rc};
        case MDB_INVALID:
        case MDB_CORRUPTED:
        case MDB_VERSION_MISMATCH:
        case MDB_PAGE_NOTFOUND:
        case MDB_INCOMPATIBLE:
            return {Errc::BadIndex, rc};
        default:
            break;
    }
    if (rc > 0) return from_errno(rc);
    return {Errc::Index, rc};
}

std::string_view to_string(ContentCheck check) {
    switch (check) {
        case ContentCheck::Unverified:
            return "unverified";
        case ContentCheck::Verified:
            return "verified";
        case ContentCheck::Mismatch:
            return "mismatch";
        case ContentCheck::MixedPending:
            return "mixed sources, verdict pending";
    }
    return "unverified";
}

}  // namespace cache
