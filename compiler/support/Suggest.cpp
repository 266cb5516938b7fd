#include "support/Suggest.h"

#include <algorithm>
#include <cctype>
#include <fmt/format.h>

namespace dls {

size_t editDistance(std::string_view a, std::string_view b, size_t limit) {
  if (a.size() > b.size() + limit || b.size() > a.size() + limit) return limit + 1;
  std::vector<size_t> prev2(b.size() + 1), prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    size_t rowMin = cur[0];
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = std::tolower(static_cast<unsigned char>(a[i - 1])) == std::tolower(static_cast<unsigned char>(b[j - 1])) ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) cur[j] = std::min(cur[j], prev2[j - 2] + 1);
      rowMin = std::min(rowMin, cur[j]);
    }
    if (rowMin > limit) return limit + 1;
    std::swap(prev2, prev);
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::optional<std::string> closest(std::string_view word, const std::vector<std::string>& candidates) {
  if (word.empty() || word.size() > 64) return std::nullopt;
  size_t limit = word.size() <= 3 ? 1 : word.size() <= 6 ? 2 : 3;
  std::optional<std::string> best;
  size_t bestD = limit + 1;
  for (const std::string& c : candidates) {
    if (c == word) continue;
    size_t d = editDistance(word, c, limit);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best;
}

std::vector<std::string> nearest(std::string_view word, const std::vector<std::string>& candidates, size_t n) {
  std::vector<std::pair<size_t, std::string>> scored;
  for (const std::string& c : candidates) {
    bool seen = false;
    for (auto& [_, s] : scored) seen |= s == c;
    if (!seen) scored.emplace_back(editDistance(word.substr(0, 64), c, 64), c);
  }
  std::stable_sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  for (size_t i = 0; i < scored.size() && i < n; ++i) out.push_back(scored[i].second);
  return out;
}

std::string suggestionText(std::string_view word, const std::vector<std::string>& candidates) {
  if (auto near = closest(word, candidates)) return fmt::format("did you mean `{}`?", *near);
  std::vector<std::string> list = nearest(word, candidates);
  if (list.empty()) return {};
  std::string quoted;
  for (const std::string& c : list) quoted += (quoted.empty() ? "`" : ", `") + c + "`";
  return fmt::format("nothing is close; the nearest are {}", quoted);
}

}  // namespace dls
