// Suggest: did-you-mean candidates by edit distance, for misspelt keywords, layers and arguments.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dls {

// Damerau-Levenshtein (optimal string alignment) distance; gives up above `limit` and returns limit+1.
size_t editDistance(std::string_view a, std::string_view b, size_t limit);
// The closest candidate within a distance that scales with the word's length, or nullopt.
std::optional<std::string> closest(std::string_view word, const std::vector<std::string>& candidates);
// The `n` candidates nearest to `word` (fewest edits, then the candidates' order), without duplicates.
std::vector<std::string> nearest(std::string_view word, const std::vector<std::string>& candidates, size_t n = 5);
// "did you mean `x`?" when one is close, else "the closest are `a`, `b`, …" (empty without candidates).
std::string suggestionText(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace dls
