// The status page served at GET / on the admin endpoint: one self-contained HTML document (inline
// CSS and JavaScript, no external assets, works offline) that reads GET /events (EventSource)
// and renders the downloads in flight, their recovery timelines, recent downloads, cache use and
// problems. docs/status-page.md describes what it shows.
//
// The source is proxy/admin/status_page.html; the build embeds it (meson reads the file into
// status_page.cpp.in), so the page ships inside the dlproxy binary and edits to the HTML need
// only a rebuild.
#pragma once

#include <string_view>

namespace proxy {

// The page, UTF-8; static storage.
std::string_view status_page_html();

}  // namespace proxy
