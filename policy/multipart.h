// multipart/byteranges (RFC 9110 §14.6): a streaming parser for answers that carry several
// ranges, and the pieces to write one.
//
// The parser is fed the body as it arrives, in pieces of any size, and reports each part's
// Content-Range and its bytes as they go by: dlproxy stores the parts of a Xet transfer answer
// while the answer streams to the client unchanged (docs/huggingface.md "Xorb cache"). A part's
// length is taken from its Content-Range, which RFC 9110 §14.6 requires in every part; after it
// the parser expects exactly CRLF "--" boundary, so a part whose bytes do not match its
// Content-Range is an error, never a silently misplaced range. Preamble (up to 1 KiB) and
// epilogue are ignored; each part's header block is limited to 8 KiB.
//
// Pure: no I/O. Ranges are half-open [begin, end) (policy/byte_range.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "policy/byte_range.h"

namespace policy {

enum class MultipartErrc {
    PreambleTooLong,  // no delimiter within the first kMaxPreamble bytes
    BadDelimiter,     // after a part's bytes, something other than CRLF "--" boundary
    HeadersTooLong,   // a part header block over kMaxPartHeaders bytes
    NoContentRange,   // a part without a Content-Range header
    BadContentRange,  // unparsable, unsatisfied ("*/N") or with an unknown complete length
    Truncated,        // finish() before the closing delimiter
};

std::string_view to_string(MultipartErrc e);

// The boundary parameter of a `multipart/byteranges` Content-Type (quotes removed); nullopt for
// another type or a missing/invalid boundary (RFC 2046 §5.1.1: 1 to 70 characters).
std::optional<std::string> byteranges_boundary(std::string_view content_type);

// Receives what MultipartParser finds, in order: on_part, then on_part_bytes zero or more times
// with the part's bytes in order, then on_part_end; repeated per part.
class MultipartVisitor {
  public:
    virtual ~MultipartVisitor() = default;
    virtual void on_part(ByteRange range, uint64_t complete_length) = 0;
    virtual void on_part_bytes(std::string_view bytes) = 0;
    virtual void on_part_end() = 0;
};

class MultipartParser {
  public:
    static constexpr size_t kMaxPreamble = 1024;
    static constexpr size_t kMaxPartHeaders = 8 * 1024;

    explicit MultipartParser(std::string boundary);

    // Parses the next piece of the body. After an error every later call returns it again and
    // reports nothing more.
    Result<void, MultipartErrc> feed(std::string_view data, MultipartVisitor& visitor);

    // The body ended: Truncated unless the closing delimiter was seen.
    Result<void, MultipartErrc> finish() const;

    bool done() const { return state_ == State::Epilogue; }

  private:
    enum class State { Preamble, AfterDelimiter, Headers, Body, Delimiter, Epilogue, Failed };

    Result<void, MultipartErrc> fail_with(MultipartErrc e);
    // Parses the header block in pending_ (without its final CRLF CRLF).
    Result<void, MultipartErrc> start_part(std::string_view headers, MultipartVisitor& visitor);

    std::string delimiter_;  // "--" boundary
    State state_ = State::Preamble;
    MultipartErrc error_ = MultipartErrc::Truncated;
    std::string pending_;          // text being matched: preamble, delimiter, headers
    uint64_t body_remaining_ = 0;  // bytes of the current part still to come
};

// What a multipart/byteranges answer with these parts is made of: the head of one part (the
// delimiter, its Content-Type and Content-Range, the blank line) and the closing delimiter.
// Every part head starts with CRLF, as nginx and the Xet origin write them; a body is
// part_head(...) + bytes for each range, then close_delimiter(...).
std::string multipart_part_head(std::string_view boundary, std::string_view content_type,
                                ByteRange range, uint64_t complete_length);
std::string multipart_close_delimiter(std::string_view boundary);
// "multipart/byteranges; boundary=<boundary>".
std::string byteranges_content_type(std::string_view boundary);

}  // namespace policy
