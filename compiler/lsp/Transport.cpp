#include "lsp/Transport.h"

#include <cctype>
#include <cerrno>
#include <charconv>
#include <poll.h>
#include <string_view>
#include <unistd.h>

namespace dls::lsp {
namespace {

bool equalsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

}  // namespace

bool Transport::fill() {
  if (ended_) return false;
  if (pos_ > (1u << 20) && pos_ * 2 > buf_.size()) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  char chunk[65536];
  for (;;) {
    ssize_t n = ::read(in_, chunk, sizeof chunk);
    if (n > 0) {
      buf_.append(chunk, static_cast<size_t>(n));
      return true;
    }
    if (n < 0 && errno == EINTR) continue;
    ended_ = true;
    return false;
  }
}

bool Transport::waitReadable(int ms) const {
  if (ended_) return true;
  pollfd p{in_, POLLIN, 0};
  int r;
  do r = ::poll(&p, 1, ms);
  while (r < 0 && errno == EINTR);
  return r != 0;
}

Transport::Status Transport::read(std::string& body, std::string& error) {
  // The body of a message refused for its length, skipped as it comes, without keeping it.
  while (skip_ > 0) {
    size_t have = std::min(skip_, buf_.size() - pos_);
    pos_ += have;
    skip_ -= have;
    if (skip_ > 0 && !fill()) return Status::End;
  }
  // Headers: up to the first blank line.
  size_t end;
  for (;;) {
    end = buf_.find("\r\n\r\n", pos_);
    if (end != std::string::npos) break;
    if (buf_.size() - pos_ > kMaxHeader) {
      // Keep the last bytes: a real header may start inside them.
      pos_ = buf_.size() - 3;
      error = "no end of headers within " + std::to_string(kMaxHeader) + " bytes";
      return Status::FramingError;
    }
    if (!fill()) return Status::End;
  }
  std::string_view headers(buf_.data() + pos_, end - pos_);
  pos_ = end + 4;
  std::optional<size_t> length;
  bool bad = false;
  while (!headers.empty()) {
    size_t nl = headers.find("\r\n");
    std::string_view line = headers.substr(0, nl);
    headers = nl == std::string_view::npos ? std::string_view{} : headers.substr(nl + 2);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      bad = true;
      continue;
    }
    if (!equalsNoCase(trim(line.substr(0, colon)), "Content-Length")) continue;
    std::string_view v = trim(line.substr(colon + 1));
    size_t n = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc{} || p != v.data() + v.size() || v.empty()) {
      error = "Content-Length is not a number: `" + std::string(v.substr(0, 40)) + "`";
      return Status::FramingError;
    }
    length = n;
  }
  if (!length) {
    error = bad ? "malformed header line" : "no Content-Length header";
    return Status::FramingError;
  }
  if (*length > kMaxBody) {
    // Answered at once; the next read skips the declared bytes.
    skip_ = *length;
    error = "Content-Length " + std::to_string(*length) + " is over the limit of " + std::to_string(kMaxBody) + " bytes";
    return Status::FramingError;
  }
  while (buf_.size() - pos_ < *length)
    if (!fill()) return Status::End;
  body.assign(buf_, pos_, *length);
  pos_ += *length;
  return Status::Message;
}

bool Transport::write(const std::string& body) {
  std::string msg = "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  size_t off = 0;
  while (off < msg.size()) {
    ssize_t n = ::write(out_, msg.data() + off, msg.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace dls::lsp
