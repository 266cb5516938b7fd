// Taxonomy: the categories of the fault taxonomy that diagnostics answer to (Humbatova et al., "Taxonomy of
// Real Faults in Deep Learning Systems", ICSE 2020), with the paper's own numbering and names. A code's
// taxonomy path (Diagnostics.def) is written one way everywhere:
//   TOP > SUBCATEGORY > leaf        e.g. "5 Training > 5.2 Loss function > wrong loss function calculation"
// each category as "NUMBER Name"; the leaf in the paper's words (category 4 numbers its leaves:
// "4 Tensors & inputs > 4.2.1 wrong shape of input data for a layer").
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace dls {

struct TaxonomyCategory {
  std::string_view number;  // "5.2"
  std::string_view name;    // "Loss function"
};

// Every numbered category, parents before children.
const std::vector<TaxonomyCategory>& taxonomyCategories();
// Empty when `path` is in the one format above with known categories in the right nesting; else what is wrong.
std::string checkTaxonomyPath(std::string_view path);
// The path's parts, split at " > ".
std::vector<std::string_view> taxonomyParts(std::string_view path);

// The taxonomy's citation, for SARIF's taxonomy component.
inline constexpr std::string_view kTaxonomyName = "DLFaultTaxonomy";
inline constexpr std::string_view kTaxonomyFullName =
    "Taxonomy of Real Faults in Deep Learning Systems (Humbatova et al., ICSE 2020)";
inline constexpr std::string_view kTaxonomyUri = "https://doi.org/10.1145/3377811.3380395";

}  // namespace dls
