// ClientConnection: responses served through the cache (CachedResponse callbacks).
#include <spdlog/spdlog.h>

#include "proxy/client/client_connection.h"
#include "proxy/http1/response_head.h"
#include "proxy/server.h"

namespace proxy {

namespace {

// A body write borrowing a chunk's bytes (send_cached_chunk).
struct ChunkWriteReq {
    uv_write_t req;
    ChunkPtr chunk;
    ClientConnection* conn;
    size_t size;
};

}  // namespace

void ClientConnection::retire_cached() {
    if (!exchange_.cached) return;
    exchange_.cached->finish();
    finished_cached_.push_back(std::move(exchange_.cached));
    defer();  // freed from the next loop iteration
}

void ClientConnection::send_cached_head(int status, const policy::HeaderList& stored) {
    if (socket_.closed) return;
    deadline_.stop();
    exchange_.status = status;
    exchange_.head_sent = true;
    if (exchange_.cached) exchange_.cache_result = exchange_.cached->result();
    if (exchange_.mirror)
        response_.send_stored_head(status, exchange_.mirror->rewrite_head(stored));
    else
        response_.send_stored_head(status, stored);
    if (status == 304) finish_cached();
}

void ClientConnection::send_cached_error(int status, std::string_view message,
                                         const std::string& content_range) {
    retire_cached();
    exchange_.status = status;
    exchange_.head_sent = true;
    std::string response = http1::format_error_response(status, message, false);
    if (!content_range.empty()) {
        // Insert Content-Range after the status line (416 must carry "bytes */length").
        size_t eol = response.find("\r\n");
        response.insert(eol + 2, "Content-Range: " + content_range + "\r\n");
    }
    write(std::move(response));
    log_access(RequestResult::Hit);
    close_after_flush();
}

void ClientConnection::send_cached_body(const char* data, size_t size) {
    exchange_.body_bytes += size;
    response_.send_body(data, size);
}

// Cached bodies are always framed by Content-Length, so chunk bytes go out as they are. Without
// this, 200 slow clients each held a private copy of up to a high-water mark of body bytes
// besides the chunk it came from (test_clients.py ManyClientsTest went past 256 MiB).
void ClientConnection::send_cached_chunk(ChunkPtr chunk, size_t offset, size_t size) {
    if (socket_.closed || size == 0) return;
    response_.flush();  // keep the byte order: batched body bytes first
    if (connect_.tls) {
        // Inside an intercepted tunnel the bytes are encrypted first, straight from the chunk.
        exchange_.body_bytes += size;
        write_encrypted({reinterpret_cast<const char*>(chunk->bytes.data() + offset), size});
        return;
    }
    exchange_.body_bytes += size;
    auto* w = new ChunkWriteReq{{}, std::move(chunk), this, size};
    w->req.data = w;
    // uv_write only reads the buffer; libuv's API is not const-correct.
    auto* data = const_cast<std::byte*>(w->chunk->bytes.data() + offset);
    uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(data), static_cast<unsigned>(size));
    socket_.queued_bytes += size;
    int rc = uv_write(&w->req, stream(), &buf, 1, &ClientConnection::chunk_write_cb);
    if (rc != 0) {
        socket_.queued_bytes -= size;
        delete w;
        close(uv_strerror(rc));
    }
}

void ClientConnection::chunk_write_cb(uv_write_t* req, int status) noexcept {
    auto* w = static_cast<ChunkWriteReq*>(req->data);
    ClientConnection* self = w->conn;
    size_t size = w->size;
    delete w;
    self->on_write_done(size, status);
}

void ClientConnection::finish_cached() {
    response_.flush();
    if (exchange_.cached) exchange_.cache_result = exchange_.cached->result();
    retire_cached();
    finish_response();
}

void ClientConnection::on_cached_waiting(bool waiting) {
    if (waiting)
        arm_deadline(Deadline::GapBudget, server_.config().gap_budget);
    else
        deadline_.stop();
}

void ClientConnection::on_cached_failed(std::string_view why, uint32_t retry_after_s) {
    retire_cached();
    if (!exchange_.head_sent && retry_after_s > 0) {
        send_error(503, std::string("dlproxy: ") + std::string(why), retry_after_s);
        return;
    }
    if (!exchange_.head_sent) {
        send_error(502, std::string("dlproxy: ") + std::string(why));
        return;
    }
    spdlog::warn("{} {}: closing the client short: {}", exchange_.method, exchange_.url, why);
    log_access(RequestResult::Aborted);
    close_after_flush();
}

void ClientConnection::on_cache_bypass(std::unique_ptr<UpstreamTransfer> transfer, int status,
                                       std::string_view reason, const policy::HeaderList& headers) {
    retire_cached();
    if (transfer) {
        pass_.transfer = std::move(transfer);
        pass_.transfer->set_sink(*this);
        on_upstream_head(status, reason, headers);
        return;
    }
    // Another client received the origin's answer: send our own request (from the timer: we
    // are inside a curl callback here).
    exchange_.pass_through_due = true;
    defer();
}

}  // namespace proxy
