// The blocking guard: once a thread is named with Store::forbid_blocking_on, every LMDB write
// transaction (begin and commit), fsync/fdatasync and body unlink on it aborts; reads there and
// writes from any other thread work. doctest has no death tests, so each call that must abort
// runs in a forked child and the parent checks it died of SIGABRT.
#include "cache/blocking_guard.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <functional>
#include <thread>

#include "cache/store.h"
#include "tests/unit/cache/test_support.h"

using namespace cache;
using namespace cache::test;

namespace {

constexpr int kDiedOfAbort = -1;

// Runs `body` in a forked child (no core file, stderr silenced: the abort message is expected)
// and returns kDiedOfAbort when it died of SIGABRT, else its exit status (body returning = 0).
// The child opens its own LMDB environment: one must not be used across fork().
int run_in_child(const std::function<int()>& body) {
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        rlimit no_core{0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) dup2(null, STDERR_FILENO);
        _exit(body());
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT) return kDiedOfAbort;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

// In the child: the store in `dir`, with the calling thread forbidden to block.
std::unique_ptr<Store> guarded_store(const std::filesystem::path& dir) {
    auto store = Store::open(dir, small_chunks());
    if (!store) _exit(2);
    (*store)->forbid_blocking_on(std::this_thread::get_id());
    return std::move(*store);
}

// A complete object under `key`, written by this (unguarded) thread.
ObjectInfo make_object(Store& store, const std::string& key) {
    auto body = pattern_bytes(40, 3);
    auto object = store.begin_object(head_for(key, 40), 2000).value();
    write_all_chunks(store, object, body);
    return store.mark_complete(object).value();
}

}  // namespace

TEST_CASE("cache/blocking guard: every store write aborts on the forbidden thread") {
    TempDir dir;
    ObjectInfo object;
    {
        auto store = open_store(dir.path());
        object = make_object(*store, "http://a/x");
    }
    // A body file no record names, for remove_orphan_files to unlink.
    auto orphan = ObjectId::for_key("http://a/orphan");
    REQUIRE(BodyFiles(dir.path() / "data", false).reset(orphan));
    auto body = pattern_bytes(40, 3);
    const std::vector<std::pair<std::string, std::function<int(Store&)>>> writes = {
        {"begin_object",
         [](Store& s) { return s.begin_object(head_for("http://a/y", 40), 1).has_value(); }},
        {"write_chunk",
         [&](Store& s) { return s.write_chunk(object, 0, std::span(body).first(16)).has_value(); }},
        {"mark_complete", [&](Store& s) { return s.mark_complete(object).has_value(); }},
        {"update_headers",
         [&](Store& s) { return s.update_headers(object, {}, 1, 1).has_value(); }},
        {"touch", [&](Store& s) { return s.touch(object, 3000).has_value(); }},
        {"remove", [&](Store& s) { return s.remove(object).has_value(); }},
        {"evict_to_budget", [](Store& s) { return s.evict_to_budget(0, {}).has_value(); }},
        {"remove_orphan_files", [](Store& s) { return s.remove_orphan_files().has_value(); }},
    };
    for (const auto& entry : writes) {  // not a structured binding: clang 14 cannot capture one
        const auto& write = entry.second;
        CAPTURE(entry.first);
        CHECK(run_in_child([&] { return write(*guarded_store(dir.path())) ? 0 : 3; }) ==
              kDiedOfAbort);
    }
    // Nothing above changed the store.
    auto store = open_store(dir.path());
    CHECK(store->lookup("http://a/x").value()->hit_count == object.hit_count);
    CHECK_FALSE(store->lookup("http://a/y").value().has_value());
    CHECK(std::filesystem::exists(BodyFiles(dir.path() / "data", false).path_for(orphan)));
}

TEST_CASE("cache/blocking guard: reads on the forbidden thread work") {
    TempDir dir;
    ObjectInfo object;
    {
        auto store = open_store(dir.path());
        object = make_object(*store, "http://a/x");
    }
    CHECK(run_in_child([&] {
              auto store = guarded_store(dir.path());
              std::vector<std::byte> buffer(16);
              bool ok = store->lookup("http://a/x").has_value() &&
                        store->present_chunks(object).has_value() && store->list().has_value() &&
                        store->stats().has_value() && store->read_chunk(object, 0, buffer);
              return ok ? 0 : 3;
          }) == 0);
}

TEST_CASE("cache/blocking guard: a write commit and each body-file sync or unlink check it") {
    TempDir dir;
    auto id = ObjectId::for_key("http://a/x");
    // The commit alone: the write transaction began before the thread was forbidden.
    CHECK(run_in_child([&] {
              EnvOptions options{.map_size = uint64_t{1} << 20, .max_dbs = 1, .max_readers = 4};
              auto env = Env::open(dir.path(), options);
              if (!env) return 2;
              BlockingGuard guard;
              env->set_guard(&guard);
              auto txn = env->begin_write();
              if (!txn) return 2;
              guard.forbid(std::this_thread::get_id());
              return txn->commit() ? 0 : 3;
          }) == kDiedOfAbort);
    BlockingGuard guard;
    std::filesystem::create_directories(dir.path() / "data");
    BodyFiles files(dir.path() / "data", true, &guard);
    REQUIRE(files.reset(id));
    const std::vector<std::pair<std::string, std::function<bool()>>> calls = {
        // Creating a file syncs its directory (truncating an existing one does not).
        {"reset", [&] { return files.reset(ObjectId::for_key("http://a/new")).has_value(); }},
        {"write",
         [&] {
             auto bytes = pattern_bytes(16, 1);
             Extent extent{0, bytes};
             return files.write(id, std::span(&extent, 1)).has_value();
         }},
        {"sync", [&] { return files.sync(id).has_value(); }},
        {"remove", [&] { return files.remove(id).has_value(); }},
    };
    for (const auto& entry : calls) {
        const auto& call = entry.second;
        CAPTURE(entry.first);
        CHECK(run_in_child([&] {
                  guard.forbid(std::this_thread::get_id());
                  return call() ? 0 : 3;
              }) == kDiedOfAbort);
    }
    // Unsynced pwrites are not checked: only the flush blocks for long.
    CHECK(run_in_child([&] {
              guard.forbid(std::this_thread::get_id());
              auto bytes = pattern_bytes(16, 1);
              Extent extent{0, bytes};
              return files.write(id, std::span(&extent, 1), false) ? 0 : 3;
          }) == 0);
}

TEST_CASE("cache/blocking guard: writes from another thread work, and the ban can be lifted") {
    TempDir dir;
    auto store = open_store(dir.path());
    store->forbid_blocking_on(std::this_thread::get_id());
    bool wrote = false;
    std::thread worker([&] {
        auto object = make_object(*store, "http://a/x");
        wrote = store->update_headers(object, object.headers, 5, 6).has_value() &&
                store->touch(object, 3000).has_value() &&
                store->evict_to_budget(1 << 20, {}).has_value() &&
                store->remove(object).has_value();
    });
    worker.join();
    CHECK(wrote);
    CHECK_FALSE(store->lookup("http://a/x").value().has_value());

    store->forbid_blocking_on(std::thread::id{});
    CHECK(make_object(*store, "http://a/z").state == ObjectState::Complete);
}
