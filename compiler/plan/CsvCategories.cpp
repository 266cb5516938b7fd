// CsvCategories.cpp: the categorical columns of a CSV data set and the elements `one_hot` encodes (see
// CsvCategories.h), from the training file as the runtime reads it (data/formats/CsvTable.h).
#include "plan/CsvCategories.h"

#include <dlspec/runtime.h>
#include <fmt/format.h>

#include <algorithm>

#include "CsvTable.h"  // data/formats: the CSV code the runtime and `check --data` use
#include "plan/FeatureStats.h"
#include "sema/OpTable.h"

namespace dls::plan {

namespace {

const sema::DataSource* trainingSource(const sema::Dataset& ds, const sema::DataSource& fallback) {
  for (const sema::DataSource& d : ds.splits)
    if (d.split == "train") return &d;
  return &fallback;
}

Span pathSpan(const sema::DataSource& s) { return s.pathSpans.empty() ? s.sourceSpan : s.pathSpans[0]; }
std::string pathText(const sema::DataSource& s, const sema::Dataset& ds) { return s.paths.empty() ? ds.name : s.paths[0]; }

std::string columnName(const Categories& c, int64_t col) {
  return c.named && size_t(col) < c.header.size() ? fmt::format("`{}`", c.header[size_t(col)]) : fmt::format("{}", col);
}

// Reads the training file's categories for `src`'s `categorical:` list (and its header). False when it cannot,
// after reporting why when `report`.
bool readCategories(const sema::Dataset& ds, const sema::DataSource& src, Categories& cats, DiagnosticEngine& diags, bool report) {
  sema::DataSource from = *trainingSource(ds, src);
  from.categorical = src.categorical;
  std::string error;
  if (categories(from, ds.labelName, cats, error)) return true;
  if (!report) return false;
  if (cats.cellLine > 0) {
    diags.report(Code::E0635, pathSpan(from), pathText(from, ds), cats.cellLine, cats.cellColumn, cats.cellWhy)
        .primary("the training split")
        .label(src.categoricalSpan.valid() ? src.categoricalSpan : src.sourceSpan, "read as categories")
        .help("give every cell of a categorical column a category name");
  } else {
    diags.report(Code::E0631, src.categoricalSpan.valid() ? src.categoricalSpan : src.sourceSpan,
                 fmt::format("the categorical columns of `{}` cannot be read: {}", pathText(from, ds), error))
        .primary("categorical columns")
        .label(pathSpan(from), "the training split")
        .help("name columns of the file's header row, or give their indices (0-based, negative from the last); the "
              "program keeps the training split's categories: build it where the file can be read");
  }
  return false;
}

}  // namespace

CategoryPlan planCategories(const sema::Dataset& ds, const sema::DataSource& src, DiagnosticEngine& diags, bool report) {
  CategoryPlan out;
  if (src.format != sema::DataFormat::Csv || src.categorical.empty()) return out;
  Categories cats;
  if (!readCategories(ds, src, cats, diags, report)) return out;
  for (size_t j = 0; j < cats.columns.size(); ++j) {
    if (std::find(cats.labels.begin(), cats.labels.end(), cats.columns[j]) == cats.labels.end()) continue;
    const std::string name = columnName(cats, cats.columns[j]);
    const auto K = static_cast<int64_t>(cats.values[j].size());
    if (cats.labels.size() > 1) {
      if (report)
        diags.report(Code::E0631, src.categoricalSpan,
                     fmt::format("the label column {} is categorical, but it is one of {} label columns, which are real-valued targets",
                                 name, cats.labels.size()))
            .primary("categorical columns")
            .help("take class names from one label column: `label: \"…\"`");
      continue;
    }
    if (ds.label.poisoned) continue;
    if (ds.label.kind != sema::SemKind::Class || !ds.label.shape.dims.empty() || ds.label.classes != K) {
      if (report)
        diags.report(Code::E0634, ds.labelTypeSpan, name, pathText(*trainingSource(ds, src), ds), K, ds.labelName, ds.label.str())
            .primary("declared here")
            .label(src.categoricalSpan, "categorical")
            .note(fmt::format("its class names, class 0 first: {}", csv::list_values(cats.values[j])))
            .help(fmt::format("declare the label as `label {}: class<{}>`", ds.labelName, K));
      continue;
    }
    out.classNames = cats.values[j];
  }
  out.text = csv::categories_text(src.categorical, cats.values);
  return out;
}

int64_t oneHotElement(const sema::Dataset& ds, const sema::Pipeline& p, const sema::PipeStep& step, DiagnosticEngine& diags,
                      bool report) {
  if (!step.attrs.count("feature")) return -1;
  const sema::DataSource* src = ds.find(p.split);
  if (!src) return -2;
  const auto& sd = ds.sample.shape.dims;
  if (ds.sample.shape.unknownRank || sd.size() != 1 || !sd[0].isConst()) return -2;
  // origin[k]: the file's feature (a column other than the labels) element k of the sample comes from, or -1
  // for the values of an earlier one_hot.
  std::vector<int64_t> origin(size_t(sd[0].value));
  for (size_t k = 0; k < origin.size(); ++k) origin[k] = int64_t(k);
  const bool csv = src->format == sema::DataFormat::Csv;
  Categories cats;
  bool haveCats = false;
  std::vector<int64_t> featureColumn;  // feature -> file column
  auto fail = [&](const sema::PipeStep& s, const std::string& why, const std::string& help) {
    if (report && &s == &step) diags.report(Code::E0630, s.span, why).primary("one_hot here").help(help);
    return int64_t{-2};
  };
  for (const sema::PipeStep& s : p.steps) {
    if (!s.op || s.op->opcode != DLS_PIPE_ONE_HOT || s.field != ds.sampleName) continue;
    auto f = s.attrs.find("feature");
    if (f == s.attrs.end()) return -1;  // every element (the sample is then no longer rank 1 for a later one)
    if (csv && !haveCats) {
      if (!readCategories(ds, *src, cats, diags, report)) return -2;
      haveCats = true;
      for (int64_t c = 0; c < int64_t(cats.header.size()); ++c)
        if (std::find(cats.labels.begin(), cats.labels.end(), c) == cats.labels.end()) featureColumn.push_back(c);
    }
    int64_t j = -1;
    if (const int64_t* n = std::get_if<int64_t>(&f->second.value)) {
      j = *n;
      if (j < 0 || j >= int64_t(origin.size()))
        return fail(s, fmt::format("`feature: {}` is not an element of the sample, which has {} here", j, origin.size()),
                    fmt::format("features are numbered 0 to {}", origin.size() - 1));
    } else if (const std::string* w = std::get_if<std::string>(&f->second.value)) {
      if (!csv) return fail(s, fmt::format("`feature: \"{}\"` names a column, but `{}.{}` is no CSV file", *w, ds.name, p.split),
                            "give the feature's index: `feature: 3`");
      const int64_t col = csv::column_index(cats.header, *w);
      const auto fk = std::find(featureColumn.begin(), featureColumn.end(), col);
      const auto at = fk == featureColumn.end() ? origin.end() : std::find(origin.begin(), origin.end(), int64_t(fk - featureColumn.begin()));
      if (col < 0 || !cats.named || at == origin.end())
        return fail(s, fmt::format("`feature: \"{}\"` names no feature column of `{}`", *w, pathText(*src, ds)),
                    cats.named ? "name a column of the file's header row that is not the label" : "the file has no header row: give the feature's index");
      j = int64_t(at - origin.begin());
    }
    // Which file column the element is, and whether that column is categorical.
    const int64_t feat = origin[size_t(j)];
    const int64_t col = csv && feat >= 0 && size_t(feat) < featureColumn.size() ? featureColumn[size_t(feat)] : -1;
    const auto cj = col >= 0 ? std::find(cats.columns.begin(), cats.columns.end(), col) : cats.columns.end();
    const bool categorical = cj != cats.columns.end();
    const sema::DType dt = s.before.dtype;
    const bool integer = dt == sema::DType::I32 || dt == sema::DType::I64 || dt == sema::DType::U8;
    const std::string what = col >= 0 ? fmt::format("feature {} (column {})", j, columnName(cats, col)) : fmt::format("feature {}", j);
    if (feat < 0)
      return fail(s, fmt::format("{} is a value of an earlier `one_hot`, not a class index", what),
                  "encode each categorical feature once, by its column's name");
    if (!categorical && !integer)
      return fail(s, fmt::format("{} is a float feature{}", what, csv ? ", not a categorical column" : ""),
                  csv ? "read the column as categories (`categorical: [\"…\"]` in csv(…)), or encode an integer sample"
                      : "declare the sample with an integer type, or convert it first: `|> to_i32`");
    const int64_t C = s.attrs.count("classes") ? std::get<int64_t>(s.attrs.at("classes").value) : 0;
    if (categorical) {
      const auto K = int64_t(cats.values[size_t(cj - cats.columns.begin())].size());
      if (C < K) {
        if (report && &s == &step)
          diags.report(Code::E0632, s.span, C, what, K)
              .primary(fmt::format("{} classes", C))
              .note(fmt::format("its values in the training split: {}", csv::list_values(cats.values[size_t(cj - cats.columns.begin())])))
              .help(fmt::format("encode it with `one_hot({}, …)`", K));
        return -2;
      }
    }
    if (&s == &step) return j;
    origin.erase(origin.begin() + j);
    origin.insert(origin.begin() + j, size_t(C), int64_t{-1});
  }
  return -2;
}

}  // namespace dls::plan
