// CachedResponse: one client's response served through a Fetch — from verified disk chunks,
// from chunks still in memory, and from the live fill — at the client's own pace.
//
// It answers the client's Range and conditional headers from the stored head (206, 416, 304,
// 412), then copies bytes while the client's write queue is below the high-water mark. A slow
// client simply reads further behind; nothing it does slows the fill or other clients.
//
// Thread: the loop thread. Lifetime: owned by its ClientConnection; detaches from the Fetch in
// finish() or its destructor. Worker completions hold a weak token and are ignored once freed.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "proxy/fetch/fetch.h"
#include "proxy/identity/hit_authorization.h"

namespace proxy {

class ClientConnection;
class FetchRegistry;

// What the request's URL allows besides a plain cached response.
struct CacheAccess {
    // The key rules dropped parameters of the URL (a signature): the stored object is served
    // only once the origin has accepted this URL for it, unless this very URL is the one the
    // fetch is filling with (proxy/identity/hit_authorization.h).
    bool signed_url = false;
    // A complete stored object whose revalidation fails may be served stale (RFC 9111 §4.2.4):
    // the host matches stale_if_error (a 5xx or no answer) or stale_if_disconnected (no answer),
    // and the URL is not signed.
    policy::StaleHostSettings stale;
};

class CachedResponse final : public FetchListener, public HitAuthorizationListener {
  public:
    CachedResponse(ClientConnection& conn, FetchRegistry& registry, std::string key,
                   const UpstreamRequest& request, const policy::HeaderList& client_headers,
                   CacheAccess access);
    ~CachedResponse();
    CachedResponse(const CachedResponse&) = delete;
    CachedResponse& operator=(const CachedResponse&) = delete;

    void start();
    // Sends what is available while the client keeps up (also called when its queue drains).
    void pump();
    // Stops reading and detaches from the fetch.
    void finish();

    // How the cache served this request (a joined complete fetch is a hit, a joined running one
    // a collapsed miss; the fetch's creator reports how the fetch went).
    CacheResult result() const;
    uint64_t bytes_from_cache() const { return bytes_from_cache_; }
    bool waiting() const { return waiting_; }

    void on_fetch_interim(int status, std::string_view reason,
                          const policy::HeaderList& headers) override;
    void on_fetch_ready(Fetch& fetch) override;
    void on_fetch_not_cacheable(std::unique_ptr<UpstreamTransfer> transfer, int status,
                                std::string_view reason,
                                const policy::HeaderList& headers) override;
    void on_fetch_progress(Fetch& fetch) override;
    void on_fetch_failed(Fetch& fetch, std::string_view why) override;
    std::optional<uint64_t> read_position() const override;
    void on_hit_authorization(Outcome outcome, std::unique_ptr<UpstreamTransfer> transfer,
                              int status, std::string_view reason,
                              const policy::HeaderList& headers, std::string_view detail) override;

  private:
    // This client's URL has not been seen by the origin for this object.
    bool needs_authorization(const Fetch& fetch) const;
    void send_head(Fetch& fetch);
    void read_from_disk(uint32_t index);
    // Starts reading chunk `index` when the response needs it and nothing else provides it.
    void read_ahead(uint32_t index);
    bool send_from(const std::byte* chunk_data, uint64_t chunk_begin, uint64_t chunk_length);
    // The same from a whole chunk, without copying its bytes.
    void send_chunk(const ChunkPtr& chunk, uint64_t chunk_begin, uint64_t chunk_length);
    // `bytes` about to be sent came from the cache: this response's count and the metric.
    void count_from_cache(uint64_t bytes);

    ClientConnection& conn_;
    FetchRegistry& registry_;
    std::string key_;
    UpstreamRequest request_;
    policy::HeaderList client_headers_;
    Fetch* fetch_ = nullptr;
    bool head_sent_ = false;
    bool done_ = false;
    bool reading_disk_ = false;
    bool waiting_ = false;
    bool pumping_ = false;
    CacheResult result_ = CacheResult::Miss;
    bool joined_ = false;
    uint64_t pos_ = 0;
    uint64_t end_ = 0;
    ChunkPtr disk_chunk_;  // the last chunk read (and verified) from disk
    // A written chunk that failed its check before it was recorded: wait for its commit, then
    // read it as a recorded chunk (whose check drops it and has it fetched again).
    std::optional<uint32_t> waiting_for_commit_;
    uint64_t bytes_from_cache_ = 0;
    CacheAccess access_;
    bool authorized_ = false;
    std::unique_ptr<HitAuthorization> authorization_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace proxy
