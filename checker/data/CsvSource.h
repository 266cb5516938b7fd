// CsvSource.h: how a `csv(…)` split of the typed program is read — its layout (header, preamble, separator)
// and its label column — in the terms of the CSV code shared with the runtime (CsvTable.h).
#pragma once
#include <string>

#include "CsvTable.h"
#include "sema/Program.h"

namespace dls::checker::data {

inline csv::Layout csvLayout(const sema::DataSource& src) {
  return csv::Layout{.header = src.csvHeader, .skip = src.csvSkip, .sep = src.csvSep, .missing = !src.impute.empty(),
                     .categorical = src.categorical};
}

// The label column as the executable finds it: by index, by the name `label:` gives, else by the label
// field's name.
inline csv::LabelColumn csvLabel(const sema::DataSource& src, const std::string& labelField) {
  if (src.labelByIndex) return csv::LabelColumn{.byIndex = true, .index = src.labelIndex};
  return csv::LabelColumn{.name = src.labelColumn.empty() ? labelField : src.labelColumn};
}

// The label column as the spec names it, for messages: "-1" or "`price`".
inline std::string csvLabelText(const sema::DataSource& src, const std::string& labelField) {
  if (src.labelByIndex) return std::to_string(src.labelIndex);
  return "`" + (src.labelColumn.empty() ? labelField : src.labelColumn) + "`";
}

}  // namespace dls::checker::data
