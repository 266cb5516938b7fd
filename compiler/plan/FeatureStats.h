// FeatureStats.h: the per-feature statistics of a training split that `standardize` and `min_max` rescale by,
// computed from the split's file when the program is built (the program keeps them, so that every split,
// `eval` and `predict` apply the same), read by the data readers the runtime and `check --data` use.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "sema/Program.h"

namespace dls::plan {

struct FeatureStats {
  std::vector<double> mean, std, min, max;  // per element of the sample, over the split's records
  int64_t records = 0;
};

// Reads `src` (a CSV, NPY or IDX split of a data set whose samples have `features` elements) and fills `out`;
// false with `error` (what went wrong and where in the file) otherwise. The standard deviation is the
// population one (divided by the record count), as scikit-learn's StandardScaler.
// `columns`: a CSV file's columns [first, end) are the features (a sample field that is a group of its columns);
// {-1, -1}: every column but the labels'.
bool featureStats(const sema::DataSource& src, const std::string& labelField, int64_t features, FeatureStats& out,
                  std::string& error, std::pair<int64_t, int64_t> columns = {-1, -1});

// The values that fill the missing cells of a CSV split's feature columns (`impute:`), one per feature column
// in the file's order: the training split's column mean, median or zero. False with `error` otherwise.
bool imputeValues(const sema::DataSource& src, const std::string& labelField, std::vector<double>& fill, std::string& error);

// The targets (label columns) of a CSV training split, one list per column, for a label field's `standardize`.
// False with `error` otherwise (a target that is not a finite number names its line and column).
bool targetValues(const sema::DataSource& src, const std::string& labelField, std::vector<std::vector<double>>& columns,
                  std::string& error);

// The categorical columns of a CSV training split (`categorical:`): their 0-based columns in the order the spec
// names them, each one's values (sorted, distinct), the header, and the label columns (none with `label_file:`).
// False with `error` otherwise; a categorical cell that names no category gives its line, column and why.
struct Categories {
  std::vector<int64_t> columns;
  std::vector<std::vector<std::string>> values;
  std::vector<std::string> header;
  bool named = true;
  std::vector<int64_t> labels;
  int64_t cellLine = 0, cellColumn = 0;
  std::string cellWhy;
};
bool categories(const sema::DataSource& src, const std::string& labelField, Categories& out, std::string& error);

}  // namespace dls::plan
