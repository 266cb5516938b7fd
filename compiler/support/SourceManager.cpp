#include "support/SourceManager.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sys/stat.h>

namespace dls {

FileId SourceManager::add(std::string path, std::string text) {
  File f;
  f.path = std::move(path);
  f.text = std::move(text);
  f.lineStarts.push_back(0);
  for (uint32_t i = 0; i < f.text.size(); ++i)
    if (f.text[i] == '\n') f.lineStarts.push_back(i + 1);
  files_.push_back(std::move(f));
  return static_cast<FileId>(files_.size() - 1);
}

std::optional<FileId> SourceManager::load(const std::string& path, std::string& error) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    error = std::strerror(errno);
    return std::nullopt;
  }
  if (S_ISDIR(st.st_mode)) {
    error = "is a directory";
    return std::nullopt;
  }
  if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) > kMaxFileBytes) {
    error = "file is " + std::to_string(st.st_size) + " bytes; specs larger than " +
            std::to_string(kMaxFileBytes >> 20) + " MiB are refused";
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = std::strerror(errno);
    return std::nullopt;
  }
  std::string text;
  char buf[1 << 16];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxFileBytes) {
      error = "input is larger than " + std::to_string(kMaxFileBytes >> 20) + " MiB; refused";
      return std::nullopt;
    }
  }
  return add(path, std::move(text));
}

std::string_view SourceManager::text(Span s) const {
  if (!s.valid()) return {};
  std::string_view t = files_[s.file].text;
  uint32_t b = std::min<uint32_t>(s.begin, static_cast<uint32_t>(t.size()));
  uint32_t e = std::min<uint32_t>(std::max(s.end, b), static_cast<uint32_t>(t.size()));
  return t.substr(b, e - b);
}

static uint32_t codePoints(std::string_view s) {
  uint32_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

LineCol SourceManager::lineCol(FileId f, uint32_t offset) const {
  const File& file = files_[f];
  auto it = std::upper_bound(file.lineStarts.begin(), file.lineStarts.end(), offset);
  uint32_t line = static_cast<uint32_t>(it - file.lineStarts.begin());
  uint32_t start = file.lineStarts[line - 1];
  uint32_t end = std::min<uint32_t>(offset, static_cast<uint32_t>(file.text.size()));
  return {line, codePoints(std::string_view(file.text).substr(start, end - start)) + 1};
}

std::string_view SourceManager::lineText(FileId f, uint32_t line) const {
  const File& file = files_[f];
  if (line == 0 || line > file.lineStarts.size()) return {};
  uint32_t start = file.lineStarts[line - 1];
  uint32_t end = line < file.lineStarts.size() ? file.lineStarts[line] - 1 : static_cast<uint32_t>(file.text.size());
  std::string_view s = std::string_view(file.text).substr(start, end - start);
  if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
  return s;
}

uint32_t SourceManager::offsetOf(FileId f, uint32_t line, uint32_t col) const {
  const File& file = files_[f];
  if (line == 0) return 0;
  if (line > file.lineStarts.size()) return static_cast<uint32_t>(file.text.size());
  uint32_t off = file.lineStarts[line - 1];
  for (uint32_t c = 1; c < col && off < file.text.size() && file.text[off] != '\n'; ++c) {
    ++off;
    while (off < file.text.size() && (static_cast<unsigned char>(file.text[off]) & 0xC0) == 0x80) ++off;
  }
  return off;
}

}  // namespace dls
