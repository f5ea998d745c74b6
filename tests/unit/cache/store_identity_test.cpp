// Store: the content identity of an object (set_content) and the facts of resolve redirects
// (put_resolve / lookup_resolve), which survive reopening the store.
#include <doctest/doctest.h>

#include "cache/store.h"
#include "tests/unit/cache/test_support.h"

using namespace cache;
using namespace cache::test;

TEST_CASE(
    "cache/store_identity: a verdict is recorded, survives a reopen and a new generation resets "
    "it") {
    TempDir dir;
    const std::string sha(64, 'e');
    ObjectInfo object;
    {
        auto store = open_store(dir.path());
        object = store->begin_object(head_for("sha256:" + sha, 40), 2000).value();
        write_all_chunks(*store, object, pattern_bytes(40, 1));
        object = store->mark_complete(object).value();
        auto set = store->set_content(object, ContentCheck::Mismatch, std::string(64, 'f'), sha);
        REQUIRE(set.has_value());
        CHECK(set->content_check == ContentCheck::Mismatch);
        CHECK(set->complete());
    }
    auto store = open_store(dir.path());
    auto found = store->lookup("sha256:" + sha).value();
    REQUIRE(found.has_value());
    CHECK(found->content_check == ContentCheck::Mismatch);
    CHECK(found->sha256 == std::string(64, 'f'));
    CHECK(found->announced_sha256 == sha);
    // A stale ObjectInfo changes nothing; a replacement starts unverified.
    auto replaced = store->begin_object(head_for("sha256:" + sha, 40), 3000).value();
    CHECK(store->set_content(object, ContentCheck::Verified, sha, sha).error() == Errc::Stale);
    CHECK(replaced.content_check == ContentCheck::Unverified);
    CHECK(replaced.sha256.empty());
}

TEST_CASE(
    "cache/store_identity: a mixed-source mark set while partial stays through commits, "
    "completion and a reopen, until the verdict replaces it") {
    TempDir dir;
    const std::string sha(64, 'd');
    ObjectInfo object;
    {
        auto store = open_store(dir.path());
        object = store->begin_object(head_for("https://origin.test/mixed", 40), 2000).value();
        auto marked = store->set_content(object, ContentCheck::MixedPending, "", sha);
        REQUIRE(marked.has_value());
        CHECK_FALSE(marked->complete());
        write_all_chunks(*store, object, pattern_bytes(40, 2));
        object = store->mark_complete(object).value();
        CHECK(object.content_check == ContentCheck::MixedPending);
    }
    auto store = open_store(dir.path());
    auto found = store->lookup("https://origin.test/mixed").value();
    REQUIRE(found.has_value());
    CHECK(found->complete());
    CHECK(found->content_check == ContentCheck::MixedPending);
    CHECK(found->sha256.empty());
    auto judged = store->set_content(*found, ContentCheck::Verified, sha, sha);
    REQUIRE(judged.has_value());
    CHECK(judged->content_check == ContentCheck::Verified);
}

TEST_CASE("cache/store_identity: resolve facts are kept by key across a reopen") {
    TempDir dir;
    ResolveFacts facts{std::string(64, 'a'), 40, "https://cdn-lfs.hf.co/r/f", "c0ffee", 1700000000};
    {
        auto store = open_store(dir.path());
        CHECK_FALSE(store->lookup_resolve("https://huggingface.co/o/r/resolve/main/f").value());
        REQUIRE(store->put_resolve("https://huggingface.co/o/r/resolve/main/f", facts));
    }
    auto store = open_store(dir.path());
    CHECK(store->lookup_resolve("https://huggingface.co/o/r/resolve/main/f").value() == facts);
    CHECK_FALSE(store->lookup_resolve("https://huggingface.co/o/r/resolve/main/g").value());
    // Not an object: listing and stats do not see it.
    CHECK(store->list().value().empty());
    CHECK(store->stats().value().objects == 0);
}
