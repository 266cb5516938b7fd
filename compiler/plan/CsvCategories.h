// CsvCategories.h: what the lowering needs of a CSV data set's categorical columns (`categorical:`) and of
// `one_hot` in a pipeline: the training split's values of each column, read when the program is built and kept
// in the program (runtime.h dls_rt_csv_categories), the class names of a categorical label column, and the
// element `one_hot(C, feature: …)` encodes.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "sema/Program.h"
#include "support/DiagnosticEngine.h"

namespace dls::plan {

struct CategoryPlan {
  std::string text;                     // dls_rt_csv_categories' argument (empty: no categorical columns)
  std::vector<std::string> classNames;  // the label column's values when it is categorical
};

// The categories of `src`'s `categorical:` columns, from the data set's training split (or `src` itself when it
// has none). `report`: whether to report what is wrong (E0631 a column that is not one, E0634 a categorical label
// of another class count, E0635 a cell that names no category, E1010 a file that cannot be read).
CategoryPlan planCategories(const sema::Dataset& ds, const sema::DataSource& src, DiagnosticEngine& diags, bool report);

// The element one_hot step `step` of pipeline `p` encodes: -1 (every element of an integer sample) or the index
// of its `feature:` in the sample as the steps before it leave it. Reports E0630 (a float feature that is no
// categorical column, a name that is no feature) and E0632 (fewer classes than the column's values); -2 then.
int64_t oneHotElement(const sema::Dataset& ds, const sema::Pipeline& p, const sema::PipeStep& step, DiagnosticEngine& diags,
                      bool report);

}  // namespace dls::plan
