// Transport: LSP's base protocol on two file descriptors — messages framed by a `Content-Length: N` header
// and a blank line (\r\n\r\n), then N bytes of JSON. Reads never block past what a message declares, a
// header that never ends or a length past kMaxBody is a framing error (the message is skipped), and the end
// of input is reported, so no input makes the server crash or wait forever.
#pragma once
#include <cstddef>
#include <optional>
#include <string>

namespace dls::lsp {

class Transport {
public:
  static constexpr size_t kMaxHeader = 8192;       // bytes of headers before the blank line
  static constexpr size_t kMaxBody = 64u << 20;    // a message's largest accepted Content-Length

  Transport(int in, int out) : in_(in), out_(out) {}

  enum class Status { Message, End, FramingError };
  // The next message's body; on FramingError `error` says what was wrong and the bad bytes are consumed.
  Status read(std::string& body, std::string& error);
  // Whether input is already buffered (a message may be complete without another read).
  bool buffered() const { return pos_ < buf_.size() && skip_ == 0; }
  // Waits up to `ms` milliseconds for input; true when some is readable (or the input ended).
  bool waitReadable(int ms) const;
  // Writes one message; false when the output is closed.
  bool write(const std::string& body);

private:
  // Appends what the input has (blocking); false at the end of input.
  bool fill();
  int in_, out_;
  std::string buf_;
  size_t pos_ = 0;
  size_t skip_ = 0;  // bytes of a refused message still to skip
  bool ended_ = false;
};

}  // namespace dls::lsp
