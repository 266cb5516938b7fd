// Text.cpp: UTF-8 or byte tokens and their vocabulary (Text.h).
#include "Text.h"

#include <algorithm>

namespace dls::data {

bool decodeText(const std::vector<uint8_t>& b, bool chars, std::vector<uint32_t>& tokens, Error& err) {
  tokens.clear();
  tokens.reserve(b.size());
  if (!chars) {
    tokens.assign(b.begin(), b.end());
    return true;
  }
  size_t line = 1;
  for (size_t i = 0; i < b.size();) {
    const uint8_t c = b[i];
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    uint32_t cp = n == 1 ? c : n == 2 ? c & 0x1f : n == 3 ? c & 0x0f : c & 0x07;
    bool ok = n > 0 && i + n <= b.size();
    for (size_t k = 1; ok && k < n; ++k) {
      ok = (b[i + k] & 0xc0) == 0x80;
      cp = (cp << 6) | (b[i + k] & 0x3f);
    }
    // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8.
    if (ok) ok = !((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff);
    if (!ok) {
      err = Error{};
      err.kind = Error::Kind::BadHeader;
      err.offset = i;
      err.what = "line " + std::to_string(line) + ": byte 0x" + "0123456789abcdef"[c >> 4] + "0123456789abcdef"[c & 15] +
                 (n == 0 ? " does not begin a UTF-8 character" : i + n > b.size() ? " begins a UTF-8 character the file cuts short"
                                                                                  : " begins an invalid UTF-8 sequence");
      return false;
    }
    if (cp == '\n') ++line;
    tokens.push_back(cp);
    i += n;
  }
  return true;
}

std::vector<uint32_t> vocabularyOf(const std::vector<uint32_t>& tokens) {
  std::vector<uint32_t> v = tokens;
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

std::vector<int32_t> tokenIds(const std::vector<uint32_t>& tokens, const std::vector<uint32_t>& vocab) {
  std::vector<int32_t> ids(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    auto it = std::lower_bound(vocab.begin(), vocab.end(), tokens[i]);
    ids[i] = it != vocab.end() && *it == tokens[i] ? int32_t(it - vocab.begin()) + 1 : 0;
  }
  return ids;
}

std::string tokenText(uint32_t cp, bool chars) {
  std::string s;
  if (!chars || cp < 0x80) s += char(cp);
  else if (cp < 0x800) s += char(0xc0 | (cp >> 6)), s += char(0x80 | (cp & 0x3f));
  else if (cp < 0x10000) s += char(0xe0 | (cp >> 12)), s += char(0x80 | ((cp >> 6) & 0x3f)), s += char(0x80 | (cp & 0x3f));
  else
    s += char(0xf0 | (cp >> 18)), s += char(0x80 | ((cp >> 12) & 0x3f)), s += char(0x80 | ((cp >> 6) & 0x3f)), s += char(0x80 | (cp & 0x3f));
  return s;
}

}  // namespace dls::data
