// Data sets: splits (idx/csv/npy sources, paths resolved against the spec's directory), the sample
// field and the label field with their types.
#include <algorithm>
#include <filesystem>
#include <fmt/format.h>

#include "sema/Analyzer.h"
#include "support/Suggest.h"

namespace dls::sema {

void Analyzer::typeDataset(const ast::Decl& d) {
  auto ds = std::make_unique<Dataset>();
  ds->name = d.name.name;
  ds->span = d.span;
  ds->nameSpan = d.name.span;
  ds->decl = &d;
  for (const ast::Item& it : d.items) {
    if (it.kind == ast::ItemKind::Field) {
      bool sample = it.role.name == "sample";
      if ((sample && !ds->sampleName.empty()) || (!sample && !ds->labelName.empty())) {
        diags.report(Code::E0104, it.key.span, it.role.name).primary("a second field of this role");
        continue;
      }
      std::optional<Type> t = it.type ? resolveType(*it.type, nullptr, false) : std::nullopt;
      Type ty = t ? *t : Type{};
      if (!t) ty.poisoned = true, ty.shape.unknownRank = true;
      Span typeSpan = it.type ? it.type->span : it.span;
      if (sample) ds->sampleName = it.key.name, ds->sample = ty, ds->sampleSpan = it.span, ds->sampleTypeSpan = typeSpan;
      else ds->labelName = it.key.name, ds->label = ty, ds->labelSpan = it.span, ds->labelTypeSpan = typeSpan;
      continue;
    }
    if (it.kind != ast::ItemKind::Assign || !it.value) {
      diags.report(Code::E0112, it.span, "dataset", "item").primary("expected `split = source(...)` or a field");
      continue;
    }
    const ast::Expr& e = *it.value;
    if (e.kind != ast::ExprKind::Call || e.path.size() != 1) {
      diags.report(Code::E0215, e.span, "a split is a data source call: `idx(\"images\", \"labels\")`, `csv(\"file\")` or `npy(\"x\", \"y\")`");
      continue;
    }
    const OpInfo* op = lookupOp(e.path[0], {OpCategory::DataSource}, "data source");
    if (!op) continue;
    std::vector<const ast::Arg*> args;
    for (auto& a : e.args) args.push_back(&a);
    std::map<std::string, Attr> attrs;
    if (!resolveArgs(*op, args, nullptr, e.span, attrs)) continue;
    if (ds->find(it.key.name)) {
      diags.report(Code::E0104, it.key.span, it.key.name).primary("this split is defined twice");
      continue;
    }
    // `train`, `valid` (`validation`, `val`) and `test` have a meaning (`eval` evaluates on `test`); another name
    // is a split only the pipelines naming it read. A near miss of a known name is most likely a typo.
    static const std::vector<std::string> known = {"train", "valid", "validation", "val", "test"};
    if (std::find(known.begin(), known.end(), it.key.name) == known.end())
      if (auto near = closest(it.key.name, known))
        diags.report(Code::W0103, it.key.span, it.key.name, *near)
            .primary("read only by the pipelines that name it")
            .help(fmt::format("`{}` is what `eval` and the checker's rules take as {}; rename the split if that is meant",
                              *near, *near == "train" ? "the training data" : *near == "test" ? "the test data" : "the validation data"))
            .fixit(it.key.span, *near);
    DataSource src;
    src.split = it.key.name;
    src.span = it.span;
    src.sourceSpan = e.span;
    src.format = op->name == "idx" ? DataFormat::Idx : op->name == "csv" ? DataFormat::Csv : DataFormat::Npy;
    for (const AttrSpec& a : op->attrs) {
      auto f = attrs.find(std::string(a.name));
      if (f == attrs.end() || !std::holds_alternative<std::string>(f->second.value)) continue;
      if (op->name == "csv" && a.name == "label") {
        src.labelColumn = std::get<std::string>(f->second.value);
        src.labelColumnSpan = f->second.span;
        continue;
      }
      std::string p = std::get<std::string>(f->second.value);
      src.paths.push_back(p);
      std::filesystem::path fp(p);
      src.resolved.push_back(fp.is_absolute() || prog.specDir.empty() ? p : (std::filesystem::path(prog.specDir) / fp).string());
      src.pathSpans.push_back(f->second.span);
    }
    ds->splits.push_back(std::move(src));
  }
  // A CSV split without `label: "…"` reads its labels from the column named like the label field.
  for (DataSource& src : ds->splits)
    if (src.format == DataFormat::Csv && src.labelColumn.empty()) src.labelColumn = ds->labelName;
  if (ds->sampleName.empty())
    diags.report(Code::E0113, d.name.span, "dataset", d.name.name, "sample field")
        .help("declare it: `sample image: u8[28, 28]`");
  if (ds->splits.empty())
    diags.report(Code::E0113, d.name.span, "dataset", d.name.name, "split").help("add one: `train = idx(\"…\", \"…\")`");
  datasets[ds->name] = ds.get();
  prog.datasets.push_back(std::move(ds));
}

}  // namespace dls::sema
