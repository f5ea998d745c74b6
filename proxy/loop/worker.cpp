#include "proxy/loop/worker.h"

namespace proxy {

namespace {

struct Job {
    uv_work_t req;
    std::function<void()> work;
    std::function<void()> done;
};

}  // namespace

bool run_on_worker(uv_loop_t* loop, std::function<void()> work, std::function<void()> done) {
    auto* job = new Job{{}, std::move(work), std::move(done)};
    job->req.data = job;
    int rc = uv_queue_work(
        loop, &job->req, [](uv_work_t* req) { static_cast<Job*>(req->data)->work(); },
        [](uv_work_t* req, int) {
            auto* job = static_cast<Job*>(req->data);
            job->done();
            delete job;
        });
    if (rc != 0) {
        delete job;
        return false;
    }
    return true;
}

}  // namespace proxy
