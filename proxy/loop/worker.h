// Worker: runs blocking work (LMDB write commits, pwrite + fdatasync, verified chunk reads) on
// libuv's thread pool and delivers the completion back on the loop thread.
//
// The work function runs on a pool thread and must touch nothing owned by the loop; the `done`
// function runs on the loop thread. Lifetime: whatever `done` refers to must outlive the job, so
// owners hold a shared_ptr (or a liveness token) in the closure.
#pragma once

#include <uv.h>

#include <functional>

namespace proxy {

// Returns false if the job could not be queued (then neither function runs).
bool run_on_worker(uv_loop_t* loop, std::function<void()> work, std::function<void()> done);

}  // namespace proxy
