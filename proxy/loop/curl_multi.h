// CurlMulti: libcurl's multi-socket API driven by the libuv loop (the pattern of curl's
// docs/examples/multi-uv.c).
//
// curl tells us which sockets to watch (socket callback) and when to wake it (timer callback);
// those callbacks only arm uv_poll / uv_timer handles. When a socket is ready or the timer fires
// we call curl_multi_socket_action and then drain curl_multi_info_read, handing each finished
// transfer to its owner (found through CURLOPT_PRIVATE, which must point at a CurlTransfer).
//
// Thread: the loop thread only. Lifetime: close() before the loop is closed; the object frees
// itself once every uv handle it owns has been closed.
#pragma once

#include <curl/curl.h>
#include <uv.h>

#include <vector>

namespace proxy {

// Implemented by whoever owns an easy handle added to the multi.
class CurlTransfer {
  public:
    // Called after the easy handle has been removed from the multi. The callee may destroy
    // itself (and the easy handle) from here.
    virtual void on_transfer_done(CURLcode result) = 0;

  protected:
    ~CurlTransfer() = default;
};

// Something that batches work produced by curl callbacks (e.g. body bytes coalesced into one
// socket write) and wants to finish it once curl_multi_socket_action has returned.
class AfterActionHook {
  public:
    virtual void on_after_curl_action() = 0;

  protected:
    ~AfterActionHook() = default;
};

class CurlMulti {
  public:
    explicit CurlMulti(uv_loop_t* loop);
    CurlMulti(const CurlMulti&) = delete;
    CurlMulti& operator=(const CurlMulti&) = delete;

    // Adds an easy handle whose CURLOPT_PRIVATE points at a CurlTransfer.
    CURLMcode add(CURL* easy);
    // Removes an easy handle (never call from inside a curl callback).
    void remove(CURL* easy);

    // curl_easy_pause(easy, mask), which may deliver buffered bytes to callbacks at once: runs
    // like a socket action (in_action() is true inside it, hooks run after it).
    void pause(CURL* easy, int mask);

    // Asks curl to look at its timers soon; needed after curl_easy_pause(CONT) from outside
    // a curl callback on old libcurl versions.
    void kick();

    // Closes the multi handle and every uv handle; `delete`s this once they are closed.
    // All easy handles must have been removed before.
    void close();

    CURLM* handle() { return multi_; }

    // True while curl_multi_socket_action (and so a curl callback) is running.
    bool in_action() const { return in_action_; }
    // Runs `hook` once the current socket action has returned. Only valid while in_action();
    // the hook's owner must stay alive until then (objects are only freed in uv close callbacks,
    // which never run inside a socket action).
    void after_action(AfterActionHook* hook) { hooks_.push_back(hook); }

  private:
    ~CurlMulti();
    struct SocketContext;

    static int socket_cb(CURL* easy, curl_socket_t s, int what, void* userp,
                         void* socketp) noexcept;
    static int timer_cb(CURLM* multi, long timeout_ms, void* userp) noexcept;
    static void on_timeout_cb(uv_timer_t* timer) noexcept;
    static void on_poll_cb(uv_poll_t* poll, int status, int events) noexcept;
    static void on_timer_closed_cb(uv_handle_t* handle) noexcept;

    void drain_completions();
    void socket_action(curl_socket_t fd, int flags);
    void run_hooks();

    uv_loop_t* loop_;
    CURLM* multi_;
    uv_timer_t timer_;
    bool closing_ = false;
    bool in_action_ = false;
    std::vector<AfterActionHook*> hooks_;
};

}  // namespace proxy
