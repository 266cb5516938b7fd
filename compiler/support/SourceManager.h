// SourceManager: owns the text of every spec read in one run and turns byte offsets into line:column
// only when a diagnostic is printed (as LLVM's SourceMgr does).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dls {

using FileId = uint32_t;

// A half-open byte range [begin, end) in one file. A span with file == kNoFile has no location.
struct Span {
  static constexpr FileId kNoFile = ~FileId{0};
  FileId file = kNoFile;
  uint32_t begin = 0;
  uint32_t end = 0;
  bool valid() const { return file != kNoFile; }
  static Span join(Span a, Span b) {
    if (!a.valid()) return b;
    if (!b.valid()) return a;
    return Span{a.file, a.begin < b.begin ? a.begin : b.begin, a.end > b.end ? a.end : b.end};
  }
};

struct LineCol {
  uint32_t line = 0;  // 1-based
  uint32_t col = 0;   // 1-based, in characters (UTF-8 code points)
};

class SourceManager {
public:
  // Largest spec accepted; larger files are refused with a diagnostic before parsing.
  static constexpr size_t kMaxFileBytes = 16u << 20;

  FileId add(std::string path, std::string text);
  // Reads a file; on failure returns nullopt and sets `error` to a message fit for a diagnostic.
  std::optional<FileId> load(const std::string& path, std::string& error);

  const std::string& path(FileId f) const { return files_[f].path; }
  std::string_view text(FileId f) const { return files_[f].text; }
  std::string_view text(Span s) const;
  LineCol lineCol(FileId f, uint32_t offset) const;
  LineCol lineCol(Span s) const { return lineCol(s.file, s.begin); }
  // The full text of 1-based line `line`, without its newline.
  std::string_view lineText(FileId f, uint32_t line) const;
  uint32_t lineCount(FileId f) const { return static_cast<uint32_t>(files_[f].lineStarts.size()); }
  // Byte offset of the start of 1-based line/column (column counted in code points).
  uint32_t offsetOf(FileId f, uint32_t line, uint32_t col) const;
  size_t fileCount() const { return files_.size(); }

private:
  struct File {
    std::string path;
    std::string text;
    std::vector<uint32_t> lineStarts;
  };
  std::vector<File> files_;
};

}  // namespace dls
