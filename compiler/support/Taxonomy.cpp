#include "support/Taxonomy.h"

#include <fmt/format.h>

namespace dls {

const std::vector<TaxonomyCategory>& taxonomyCategories() {
  static const std::vector<TaxonomyCategory> table = {
      {"1", "Model"},
      {"1.1", "Model type & properties"},
      {"1.2.1", "Missing / redundant / wrong layer"},
      {"1.2.2", "Layer properties"},
      {"1.2.3", "Activation function"},
      {"2", "GPU usage"},
      {"3", "API"},
      {"4", "Tensors & inputs"},
      {"4.1", "wrong tensor shape"},
      {"4.2.1", "wrong shape of input data"},
      {"4.2.2", "wrong type of input data"},
      {"4.2.3", "wrong input format"},
      {"5", "Training"},
      {"5.1", "Hyperparameters"},
      {"5.2", "Loss function"},
      {"5.3", "Validation / testing"},
      {"5.4", "Preprocessing of training data"},
      {"5.5", "Optimizer"},
      {"5.6", "Training data quality"},
      {"5.7", "Training process"},
  };
  return table;
}

std::vector<std::string_view> taxonomyParts(std::string_view path) {
  std::vector<std::string_view> parts;
  while (true) {
    size_t sep = path.find(" > ");
    parts.push_back(path.substr(0, sep));
    if (sep == std::string_view::npos) break;
    path = path.substr(sep + 3);
  }
  return parts;
}

static const TaxonomyCategory* category(std::string_view part) {
  for (const TaxonomyCategory& c : taxonomyCategories())
    if (part.size() == c.number.size() + 1 + c.name.size() && part.substr(0, c.number.size()) == c.number &&
        part[c.number.size()] == ' ' && part.substr(c.number.size() + 1) == c.name)
      return &c;
  return nullptr;
}

std::string checkTaxonomyPath(std::string_view path) {
  std::vector<std::string_view> parts = taxonomyParts(path);
  if (parts.size() < 2) return fmt::format("`{}` has no category: write `NUMBER Category > … > leaf`", path);
  std::string_view parent;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    const TaxonomyCategory* c = category(parts[i]);
    if (!c) return fmt::format("`{}` is not a category of the taxonomy (`NUMBER Name`, e.g. `5.2 Loss function`)", parts[i]);
    // A category nests in the one whose number is a prefix of its own ("5.2" in "5").
    if (i == 0 ? c->number.find('.') != std::string_view::npos
               : c->number.rfind(std::string(parent) + ".", 0) != 0)
      return fmt::format("`{}` does not belong under `{}`", parts[i], i ? parts[i - 1] : "the top");
    parent = c->number;
  }
  std::string_view leaf = parts.back();
  if (leaf.empty()) return "the leaf is empty";
  // Category 4 numbers its leaves: "4.2.1 wrong shape of input data for a layer".
  if (parent == "4") {
    bool numbered = false;
    for (const TaxonomyCategory& c : taxonomyCategories())
      if (c.number.rfind("4.", 0) == 0 && leaf.rfind(fmt::format("{} {}", c.number, c.name), 0) == 0) numbered = true;
    if (!numbered) return fmt::format("`{}` under `4 Tensors & inputs` must start with its number and name", leaf);
  } else if (!leaf.empty() && leaf[0] >= '0' && leaf[0] <= '9') {
    return fmt::format("the leaf `{}` is numbered: only its categories are", leaf);
  }
  return {};
}

}  // namespace dls
