// Index: the `extents` database (extent_record.h), the byte ranges of sparse objects.
#include "cache/index.h"

namespace cache {

Result<void> Index::put_extent(Txn& txn, const ObjectId& id, uint64_t start,
                               const detail::ExtentRecord& extent) {
    if (!extents_) return fail(Errc::ReadOnly);
    auto key = detail::extent_key(id, start);
    return txn.put(*extents_, key, detail::encode_extent(extent));
}

Result<bool> Index::delete_extent(Txn& txn, const ObjectId& id, uint64_t start) {
    if (!extents_) return false;
    return txn.del(*extents_, detail::extent_key(id, start));
}

Result<void> Index::for_each_extent(
    const Txn& txn, const ObjectId& id,
    const std::function<void(uint64_t, const detail::ExtentRecord&)>& visit) const {
    if (!extents_) return {};
    auto cursor = Cursor::open(txn, *extents_);
    if (!cursor) return policy::fail(cursor.error());
    for (auto entry = cursor->seek(detail::extent_key(id, 0));; entry = cursor->next()) {
        if (!entry) return policy::fail(entry.error());
        if (!*entry) return {};
        auto key = detail::decode_extent_key((*entry)->key);
        if (!key) return policy::fail(key.error());
        if (key->first != id) return {};
        auto extent = detail::decode_extent((*entry)->value);
        if (!extent) return policy::fail(extent.error());
        visit(key->second, *extent);
    }
}

Result<void> Index::delete_extents(Txn& txn, const ObjectId& id) {
    if (!extents_) return {};
    auto cursor = Cursor::open(txn, *extents_);
    if (!cursor) return policy::fail(cursor.error());
    auto entry = cursor->seek(detail::extent_key(id, 0));
    while (entry && *entry) {
        auto key = detail::decode_extent_key((*entry)->key);
        if (!key || key->first != id) break;
        if (auto deleted = cursor->del(); !deleted) return deleted;
        entry = cursor->seek(detail::extent_key(id, 0));
    }
    if (!entry) return policy::fail(entry.error());
    return {};
}

}  // namespace cache
