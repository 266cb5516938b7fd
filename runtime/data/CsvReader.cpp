// CsvReader.cpp: comma-separated numeric tables with one header row, parsed by the CSV code that
// `dlspec check --data` uses too (CsvTable.h), the problems reported as R02xx diagnostics.
#include "CsvTable.h"  // data/formats: shared with `dlspec check --data`
#include "Dataset.h"
#include "Stream.h"

namespace dls {

Array read_csv(const std::string& path, int64_t* columns, std::vector<std::string>* header) {
  csv::Table t;
  Array a = read_csv(path, csv::Layout{}, t);
  *columns = static_cast<int64_t>(t.header.size());
  if (header) *header = std::move(t.header);
  return a;
}

Array read_csv(const std::string& path, const csv::Layout& layout, csv::Table& t) {
  std::vector<uint8_t> b = read_file(path);
  csv::Error e;
  if (!csv::parse(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()), t, e, layout)) fail_csv(path, e, layout);
  Array a;
  a.values = std::move(t.values);
  a.shape = {t.rows, static_cast<int64_t>(t.header.size())};
  return a;
}

void fail_csv(const std::string& path, const csv::Error& e, const csv::Layout& layout) {
  {
    switch (e.kind) {
      case csv::Error::Kind::Ragged:
        fail(Diag::R0206, fmt::format("{}:{}", path, e.line), path, e.line, e.cells, e.expected);
      case csv::Error::Kind::NotANumber:
        fail(Diag::R0207, fmt::format("{}:{}:{}", path, e.line, e.column), path, e.line, e.column, e.what);
      case csv::Error::Kind::Column:
        fail(Diag::R0253, fmt::format("{}:{}", path, e.line), path, "the categorical column: the file " + e.what);
      default:
        fail(Diag::R0213, path, fmt::format("'{}' is empty ({})", path, layout.header ? "no header row" : "no records"));
    }
  }
}

}  // namespace dls
