// Data sets: splits (idx/csv/npy sources, paths resolved against the spec's directory), the sample
// field and the label field with their types.
#include <algorithm>
#include <filesystem>
#include <fmt/format.h>

#include "sema/Analyzer.h"
#include "support/Suggest.h"

namespace dls::sema {

// The names of a data set declaration's sample fields, in order, and of its label field ("" for none): sources read
// before the fields are declared bind their files to them by name.
std::vector<std::string> Analyzer::sampleFieldNames(const ast::Decl& d) {
  std::vector<std::string> out;
  for (const ast::Item& it : d.items)
    if (it.kind == ast::ItemKind::Field && it.role.name == "sample" &&
        std::find(out.begin(), out.end(), it.key.name) == out.end())
      out.push_back(it.key.name);
  return out;
}
std::string Analyzer::labelFieldName(const ast::Decl& d) {
  for (const ast::Item& it : d.items)
    if (it.kind == ast::ItemKind::Field && it.role.name != "sample") return it.key.name;
  return "";
}

namespace {
// `columns(FIRST, END)` (the file's columns FIRST … END - 1, counted from 0) or `column(K)`, as the argument of a
// field of a CSV split; E0638 when it is neither.
std::optional<DataSource::ColumnGroup> columnGroupOf(const ast::Arg& a, DiagnosticEngine& diags, const std::string& split,
                                                    const std::string& dataset) {
  const ast::Expr* v = a.value.get();
  const std::string field = a.name->name;
  const bool call = v && v->kind == ast::ExprKind::Call && v->path.size() == 1 &&
                    (v->path[0].name == "columns" || v->path[0].name == "column");
  const size_t want = call && v->path[0].name == "column" ? 1 : 2;
  std::vector<int64_t> n;
  if (call)
    for (const ast::Arg& x : v->args)
      if (!x.name && x.value && x.value->kind == ast::ExprKind::Number && x.value->isInteger && x.value->integer >= 0)
        n.push_back(x.value->integer);
  if (!call || v->args.size() != want || n.size() != want) {
    diags.report(Code::E0638, a.span, split, dataset,
                 fmt::format("the columns of field `{}` are `columns(FIRST, END)`, the file's columns FIRST to END - 1 counted from 0, "
                             "or `column(K)`", field))
        .primary(call ? "not two column numbers (one for `column`)" : "not a group of columns")
        .help(fmt::format("for instance `{}: columns(0, 4)`", field));
    return std::nullopt;
  }
  DataSource::ColumnGroup g;
  g.field = field, g.span = a.span;
  g.first = n[0], g.end = want == 1 ? n[0] + 1 : n[1];
  if (g.end <= g.first) {
    diags.report(Code::E0638, v->argsSpan, split, dataset, fmt::format("columns({}, {}) of field `{}` is empty", g.first, g.end, field))
        .primary("END is not past FIRST")
        .help(fmt::format("`columns(FIRST, END)` takes columns FIRST to END - 1: `{}: columns({}, {})`", field, g.first, g.first + 1));
    return std::nullopt;
  }
  return g;
}

// A CSV split of a data set with several sample fields: a group of its columns for every sample field, in the
// fields' order, apart from each other and from the label's column, leaving no column between them out.
void checkColumnGroups(DiagnosticEngine& diags, DataSource& src, const std::map<std::string, Attr>& attrs,
                                 const std::vector<DataSource::ColumnGroup>& groups,
                                 const std::optional<DataSource::ColumnGroup>& labelGroup, bool labelArg, const std::vector<std::string>& fieldNames,
                                 const std::string& labelField, const std::string& dataset) {
  const std::string& split = src.split;
  if (auto c = attrs.find("categorical"); c != attrs.end())
    diags.report(Code::E0143, c->second.span, "`categorical:`")
        .primary("categorical columns of a split whose sample fields are groups of columns")
        .help("encode the categories as numbers in the file, or read the fields from .npy files: `npy(img: \"….npy\", …)`");
  bool complete = true;
  for (const std::string& f : fieldNames) {
    auto g = std::find_if(groups.begin(), groups.end(), [&](const DataSource::ColumnGroup& x) { return x.field == f; });
    if (g == groups.end()) {
      complete = false;
      diags.report(Code::E0638, src.sourceSpan, split, dataset, fmt::format("it gives no columns for sample field `{}`", f))
          .primary("each sample field is a group of the file's columns")
          .help(fmt::format("name them after the field: `{}: columns(FIRST, END)`", f));
    } else if (g->first < 0) {
      complete = false;
    } else {
      src.columnGroups.push_back(*g);
    }
  }
  // The label: its column by `kind: column(K)` (or `label: K`), or a file of its own (`label_file:`).
  if (labelGroup) {
    if (src.labelColumnSpan.valid() || attrs.count("label_file")) {
      diags.report(Code::E0638, labelGroup->span, split, dataset, fmt::format("the labels are given twice: by `{}:` and by `{}:`", labelField,
                                                                                    attrs.count("label_file") ? "label_file" : "label"))
          .primary("the label's column")
          .label(attrs.count("label_file") ? attrs.at("label_file").span : src.labelColumnSpan, "and here")
          .help("keep one of them");
    } else {
      src.labelByIndex = true, src.labelIndex = labelGroup->first, src.labelColumnSpan = labelGroup->span;
    }
  } else if (labelArg) {
    return;  // its column is malformed: reported where it is written
  } else if (!attrs.count("label_file") && !labelField.empty() && (!src.labelByIndex || src.labelColumns.size() > 1)) {
    diags.report(Code::E0638, src.labelColumnSpan.valid() ? src.labelColumnSpan : src.sourceSpan, split, dataset,
                 src.labelColumns.size() > 1 ? std::string("a split whose sample fields are groups of columns reads one label column")
                                             : std::string("a split whose sample fields are groups of columns names its label column by its number"))
        .primary(src.labelColumnSpan.valid() ? "not one column number" : "no label column")
        .help(fmt::format("name it: `{}: column(K)`, K counted from 0", labelField));
    return;
  }
  if (!complete) return;
  // Overlaps, and columns left out below the last one a field or the label takes.
  struct Taken {
    int64_t first, end;
    std::string what;
    Span span;
  };
  std::vector<Taken> taken;
  for (const DataSource::ColumnGroup& g : src.columnGroups)
    taken.push_back({g.first, g.end, fmt::format("sample field `{}`", g.field), g.span});
  const bool labelKnown = src.labelByIndex && src.labelIndex >= 0 && !attrs.count("label_file");
  if (labelKnown) taken.push_back({src.labelIndex, src.labelIndex + 1, "the label", src.labelColumnSpan});
  std::stable_sort(taken.begin(), taken.end(), [](const Taken& a, const Taken& b) { return a.first < b.first; });
  bool overlap = false;
  for (size_t i = 1; i < taken.size(); ++i)
    if (taken[i].first < taken[i - 1].end) {
      overlap = true;
      const Taken& a = taken[i - 1];
      const Taken& b = taken[i];
      diags.report(Code::E0638, b.span, split, dataset,
                   fmt::format("{} and {} both take column {}", b.what, a.what, b.first))
          .primary(fmt::format("columns [{}, {})", b.first, b.end))
          .label(a.span, fmt::format("columns [{}, {})", a.first, a.end))
          .help("each column of the file belongs to one field");
    }
  // A column left out needs the file's columns to be told only when it comes after the last group (`check
  // --data`, the executable: E0639, R0260); one between two groups is left out whatever the file.
  if (overlap || (!labelKnown && !attrs.count("label_file"))) return;
  for (size_t i = 0; i < taken.size(); ++i) {
    const int64_t from = i == 0 ? 0 : taken[i - 1].end;
    if (taken[i].first > from)
      diags.report(Code::E0638, taken[i].span, split, dataset,
                   fmt::format("{} {} in no sample field and not the label", taken[i].first - from == 1 ? "column" : "columns",
                               taken[i].first - from == 1 ? fmt::format("{} is", from) : fmt::format("{} to {} are", from, taken[i].first - 1)))
          .primary(fmt::format("{} starts at column {}", taken[i].what, taken[i].first))
          .help("every column of the file is a sample field's or the label's: widen a group, or remove the column from the file");
  }
}
}  // namespace

void Analyzer::typeDataset(const ast::Decl& d) {
  auto ds = std::make_unique<Dataset>();
  ds->name = d.name.name;
  ds->span = d.span;
  ds->nameSpan = d.name.span;
  ds->decl = &d;
  for (const ast::Item& it : d.items) {
    if (it.kind == ast::ItemKind::Field) {
      bool sample = it.role.name == "sample";
      if (!sample && !ds->labelName.empty()) {
        diags.report(Code::E0104, it.key.span, it.role.name).primary("a second field of this role");
        continue;
      }
      // Several sample fields are the inputs of a network with several inputs, each taken by its name.
      if (sample && (ds->sampleIndex(it.key.name) >= 0 || it.key.name == ds->labelName)) {
        diags.report(Code::E0104, it.key.span, it.key.name).primary("a second field of this name");
        continue;
      }
      std::optional<Type> t = it.type ? resolveType(*it.type, nullptr, false) : std::nullopt;
      Type ty = t ? *t : Type{};
      if (!t) ty.poisoned = true, ty.shape.unknownRank = true;
      Span typeSpan = it.type ? it.type->span : it.span;
      if (sample && !ds->sampleName.empty())
        ds->moreSamples.push_back({it.key.name, ty, it.span, typeSpan});
      else if (sample) ds->sampleName = it.key.name, ds->sample = ty, ds->sampleSpan = it.span, ds->sampleTypeSpan = typeSpan;
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
    // A data set with several sample fields names each field's file after the field: `npy(img: "…", meta: "…",
    // kind: "…")`; the first sample field's is the samples' file, the label field's the labels' file.
    std::vector<ast::Arg> renamed;
    std::vector<DataSource::FieldFile> fieldFiles;
    renamed.reserve(e.args.size());
    const std::vector<std::string> fieldNames = sampleFieldNames(d);
    const std::string labelField = labelFieldName(d);
    // A CSV file with several sample fields gives each field a group of its columns: `img: columns(0, 784)`, and
    // the label its column: `kind: column(788)`.
    const bool csvGroups = op->name == "csv" && fieldNames.size() > 1;
    std::vector<DataSource::ColumnGroup> groups;
    std::optional<DataSource::ColumnGroup> labelGroup;
    bool labelArg = false;  // the label field named among the source's arguments (its column, maybe malformed)
    for (auto& a : e.args) {
      const bool named = a.name.has_value();
      const auto at = named ? std::find(fieldNames.begin(), fieldNames.end(), a.name->name) : fieldNames.end();
      if (csvGroups && named && (at != fieldNames.end() || a.name->name == labelField)) {
        labelArg |= at == fieldNames.end();
        std::optional<DataSource::ColumnGroup> g = columnGroupOf(a, diags, it.key.name, ds->name);
        if (!g) {
          // Reported there; the field has its (malformed) group: [-1, -1).
          if (at != fieldNames.end()) groups.push_back({a.name->name, -1, -1, a.span});
          continue;
        }
        if (at != fieldNames.end()) {
          groups.push_back(*g);
        } else if (g->end - g->first != 1) {
          diags.report(Code::E0638, a.span, it.key.name, ds->name, fmt::format("the label field `{}` is one column, but it names {}", g->field, g->end - g->first))
              .primary("several columns")
              .help(fmt::format("name the label's column: `{}: column({})`", g->field, g->first));
        } else {
          labelGroup = g;
        }
        continue;
      }
      if (fieldNames.size() < 2 || !named || (at == fieldNames.end() && a.name->name != labelField)) {
        args.push_back(&a);
        continue;
      }
      if (at != fieldNames.begin() && at != fieldNames.end()) {
        DataSource::FieldFile ff;
        ff.field = a.name->name;
        ff.span = a.span;
        if (a.value && a.value->kind == ast::ExprKind::String) ff.path = a.value->text;
        else diags.report(Code::E0142, a.span, it.key.name, ds->name, fmt::format("the file of sample field `{}` is a path string", ff.field))
                 .primary("not a string");
        fieldFiles.push_back(std::move(ff));
        continue;
      }
      if (!a.value || a.value->kind != ast::ExprKind::String) {
        diags.report(Code::E0142, a.span, it.key.name, ds->name, fmt::format("the file of field `{}` is a path string", a.name->name))
            .primary("not a string");
        continue;
      }
      ast::Arg r;
      // The source's own argument: its first positional one (the samples' file) or its second (the labels' file).
      std::string argName = at == fieldNames.begin() ? "samples" : "labels";
      for (const AttrSpec& spec : op->attrs)
        if (spec.positional == (at == fieldNames.begin() ? 0 : 1)) argName = std::string(spec.name);
      r.name = ast::Ident{argName, a.name->span};
      r.value = std::make_unique<ast::Expr>();
      r.value->kind = ast::ExprKind::String, r.value->span = a.value->span;
      r.value->text = a.value->text, r.value->raw = a.value->raw;
      r.span = a.span;
      renamed.push_back(std::move(r));
      args.push_back(&renamed.back());
    }
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
    src.format = op->name == "idx" ? DataFormat::Idx : op->name == "csv" ? DataFormat::Csv
                 : op->name == "images" ? DataFormat::Images : op->name == "text" ? DataFormat::Text : DataFormat::Npy;
    if (fieldNames.size() > 1) {
      // Each further sample field's file, resolved as the other paths are; every field needs one.
      if (src.format == DataFormat::Csv) {
        // below, with the split's label column
      } else if (src.format != DataFormat::Npy && src.format != DataFormat::Idx) {
        diags.report(Code::E0143, e.span, fmt::format("`{}(…)`", op->name))
            .primary("reads one sample per record")
            .help(fmt::format("give each sample field a file of its own: `npy({}: \"….npy\", {}: \"….npy\"{})`", fieldNames[0],
                              fieldNames[1], labelField.empty() ? "" : fmt::format(", {}: \"….npy\"", labelField)));
      } else {
        for (auto& ff : fieldFiles) {
          std::filesystem::path fp(ff.path);
          ff.resolved = fp.is_absolute() || prog.specDir.empty() ? ff.path : (std::filesystem::path(prog.specDir) / fp).string();
        }
        for (size_t k = 1; k < fieldNames.size(); ++k) {
          auto ff = std::find_if(fieldFiles.begin(), fieldFiles.end(), [&](const DataSource::FieldFile& f) { return f.field == fieldNames[k]; });
          if (ff == fieldFiles.end())
            diags.report(Code::E0142, e.span, it.key.name, ds->name, fmt::format("it gives no file for sample field `{}`", fieldNames[k]))
                .primary("each sample field reads a file of its own")
                .help(fmt::format("name it after the field: `{}: \"….npy\"`", fieldNames[k]));
          else if (!ff->resolved.empty())
            src.fieldFiles.push_back(*ff);
        }
      }
    }
    if (src.format == DataFormat::Text) {
      if (auto f = attrs.find("seq"); f != attrs.end())
        if (auto* n = std::get_if<int64_t>(&f->second.value)) src.textSeq = *n;
      if (auto f = attrs.find("tokens"); f != attrs.end())
        if (auto* w = std::get_if<std::string>(&f->second.value)) src.textChars = *w != "bytes";
    }
    if (src.format == DataFormat::Images) {
      if (auto f = attrs.find("size"); f != attrs.end())
        if (auto* hw = std::get_if<std::vector<int64_t>>(&f->second.value); hw && hw->size() == 2)
          src.imageHeight = (*hw)[0], src.imageWidth = (*hw)[1];
      if (auto f = attrs.find("channels"); f != attrs.end())
        if (auto* c = std::get_if<int64_t>(&f->second.value)) {
          src.imageChannels = *c;
          if (*c == 2)
            diags.report(Code::E0212, f->second.span, "channels", "images", "1 (grey) or 3 (RGB)", "2")
                .primary("an image has 1 or 3 channels");
        }
      if (auto f = attrs.find("resize"); f != attrs.end())
        if (auto* w = std::get_if<std::string>(&f->second.value)) src.imageResize = *w == "crop" ? 1 : *w == "pad" ? 2 : 0;
    }
    if (src.format == DataFormat::Csv) {
      if (auto f = attrs.find("label"); f != attrs.end()) {
        src.labelColumnSpan = f->second.span;
        if (auto* n = std::get_if<int64_t>(&f->second.value)) src.labelByIndex = true, src.labelIndex = *n;
        else if (auto* w = std::get_if<std::string>(&f->second.value)) src.labelColumn = *w;
        else if (auto* l = std::get_if<std::vector<std::string>>(&f->second.value)) {
          src.labelColumns = *l;
          // The first column also stands for the whole list where one label column is looked up by index.
          const std::string& first = l->front();
          if (first[0] == '#') src.labelByIndex = true, src.labelIndex = std::stoll(first.substr(1));
          else src.labelColumn = first;
        }
      }
      if (auto f = attrs.find("impute"); f != attrs.end())
        if (auto* w = std::get_if<std::string>(&f->second.value)) src.impute = *w;
      if (auto f = attrs.find("categorical"); f != attrs.end()) {
        src.categoricalSpan = f->second.span;
        if (auto* n = std::get_if<int64_t>(&f->second.value)) src.categorical = {"#" + std::to_string(*n)};
        else if (auto* w = std::get_if<std::string>(&f->second.value)) src.categorical = {*w};
        else if (auto* l = std::get_if<std::vector<std::string>>(&f->second.value)) src.categorical = *l;
      }
      if (auto f = attrs.find("label_file"); f != attrs.end()) {
        src.labelFileSpan = f->second.span;
        if (src.labelColumnSpan.valid())
          diags.report(Code::E0633, src.labelColumnSpan,
                       attrs.count("path") && std::holds_alternative<std::string>(attrs.at("path").value)
                           ? std::get<std::string>(attrs.at("path").value) : std::string("the file"))
              .primary("a label column")
              .label(f->second.span, "the labels' file")
              .help("drop `label:`: every column of the first file is a feature, every column of the label file a label");
      }
      if (auto f = attrs.find("header"); f != attrs.end())
        if (auto* b = std::get_if<bool>(&f->second.value)) src.csvHeader = *b;
      if (auto f = attrs.find("skip"); f != attrs.end())
        if (auto* n = std::get_if<int64_t>(&f->second.value)) src.csvSkip = *n;
      if (auto f = attrs.find("sep"); f != attrs.end())
        if (auto* w = std::get_if<std::string>(&f->second.value))
          src.csvSep = *w == "semicolon" ? ';' : *w == "tab" ? '\t' : *w == "space" ? ' ' : ',';
      if (csvGroups) checkColumnGroups(diags, src, attrs, groups, labelGroup, labelArg, fieldNames, labelField, ds->name);
      if (!src.csvHeader && !src.labelByIndex && !attrs.count("label_file")) {
        const Span at = src.labelColumnSpan.valid() ? src.labelColumnSpan : e.span;
        diags.report(Code::E0215, at, "a CSV file without a header row has no column names: its label column is given by index")
            .primary(src.labelColumn.empty() ? "no `label:` index here" : "a name, but the file's columns have none")
            .help("give the label column's index: `label: -1` for the last column, `label: 0` for the first");
      }
    }
    for (const AttrSpec& a : op->attrs) {
      if (a.type != AttrType::String) continue;  // words, numbers and the csv label column: not paths
      auto f = attrs.find(std::string(a.name));
      if (f == attrs.end() || !std::holds_alternative<std::string>(f->second.value)) continue;
      std::string p = std::get<std::string>(f->second.value);
      src.paths.push_back(p);
      std::filesystem::path fp(p);
      src.resolved.push_back(fp.is_absolute() || prog.specDir.empty() ? p : (std::filesystem::path(prog.specDir) / fp).string());
      src.pathSpans.push_back(f->second.span);
      if (a.name == "label_file") src.labelFile = src.resolved.back();
    }
    ds->splits.push_back(std::move(src));
  }
  // Several label columns are real-valued targets, one per column: the label field is real[K], K the columns.
  for (const DataSource& src : ds->splits) {
    if (src.format != DataFormat::Csv || src.labelColumns.size() < 2 || ds->labelName.empty() || ds->label.poisoned) continue;
    const auto K = static_cast<int64_t>(src.labelColumns.size());
    const auto& ld = ds->label.shape.dims;
    const bool fits = ds->label.kind == SemKind::Real && !ds->label.shape.unknownRank && ld.size() == 1 && ld[0].isConst() &&
                      ld[0].value == K;
    if (!fits)
      diags.report(Code::E0604, src.labelColumnSpan.valid() ? src.labelColumnSpan : src.sourceSpan,
                   fmt::format("csv(…, label: […]) reads {} label columns, the {} real-valued targets of each record, but `{}` is declared {}",
                               K, K, ds->labelName, ds->label.str()))
          .primary(fmt::format("{} label columns", K))
          .label(ds->labelTypeSpan, "declared here")
          .help(fmt::format("declare the label as `label {}: f32[{}]` (class labels come from one column)", ds->labelName, K));
  }
  // A field's column group against the field's declared shape: one column per element.
  for (const DataSource& src : ds->splits)
    for (const DataSource::ColumnGroup& g : src.columnGroups) {
      const int k = ds->sampleIndex(g.field);
      if (k < 0) continue;
      const Type& t = k == 0 ? ds->sample : ds->moreSamples[size_t(k - 1)].type;
      const Span typeSpan = k == 0 ? ds->sampleTypeSpan : ds->moreSamples[size_t(k - 1)].typeSpan;
      if (t.poisoned || t.shape.unknownRank) continue;
      const std::optional<int64_t> n = t.shape.elements();
      if (n && *n != g.end - g.first)
        diags.report(Code::E0638, g.span, src.split, ds->name,
                     fmt::format("sample field `{}` takes {} columns, one per element, but it is declared {} ({} elements)", g.field,
                                 g.end - g.first, t.str(), *n))
            .primary(fmt::format("columns [{}, {})", g.first, g.end))
            .label(typeSpan, "declared here")
            .help(fmt::format("give it {} columns: `{}: columns({}, {})`", *n, g.field, g.first, g.first + *n));
    }
  // A CSV split without `label: "…"` reads its labels from the column named like the label field.
  for (DataSource& src : ds->splits)
    if (src.format == DataFormat::Csv && src.labelColumn.empty() && !src.labelByIndex && src.labelFile.empty()) src.labelColumn = ds->labelName;
  for (const DataSource& src : ds->splits)
    if (src.format == DataFormat::Images && !ds->sampleName.empty()) checkImageSource(*ds, src);
    else if (src.format == DataFormat::Text && !ds->sampleName.empty()) checkTextSource(*ds, src);
  if (ds->sampleName.empty())
    diags.report(Code::E0113, d.name.span, "dataset", d.name.name, "sample field")
        .help("declare it: `sample image: u8[28, 28]`");
  if (ds->splits.empty())
    diags.report(Code::E0113, d.name.span, "dataset", d.name.name, "split").help("add one: `train = idx(\"…\", \"…\")`");
  datasets[ds->name] = ds.get();
  prog.datasets.push_back(std::move(ds));
}

// An images(…) split decodes to u8 samples of shape [C, H, W] (C = 1 or 3) or [H, W] (grey) and class
// labels (one per class sub-folder): the declared fields must be those, and `size:`/`channels:`, when given,
// what the samples declare.
void Analyzer::checkImageSource(const Dataset& ds, const DataSource& src) {
  const Type& t = ds.sample;
  if (t.poisoned) return;
  const auto& d = t.shape.dims;
  const bool constDims = !t.shape.unknownRank && std::all_of(d.begin(), d.end(), [](const Dim& x) { return x.isConst(); });
  const bool rankOk = !t.shape.unknownRank && (d.size() == 2 || (d.size() == 3 && d[0].isConst() && (d[0].value == 1 || d[0].value == 3)));
  if (t.dtype != DType::U8 || !rankOk || !constDims) {
    diags.report(Code::E0215, ds.sampleTypeSpan,
                 fmt::format("images(…) gives samples of type u8[C, H, W] (C = 1 or 3) or u8[H, W], but `{}` is declared {}",
                             ds.sampleName, fmt::format("{}{}", dtypeName(t.dtype), t.shape.str())))
        .primary("declared here")
        .help("declare the sample as the decoded image: `sample image: u8[3, 64, 64]` (channels, height, width)");
    return;
  }
  const int64_t C = d.size() == 3 ? d[0].value : 1, H = d[d.size() - 2].value, W = d[d.size() - 1].value;
  if (src.imageChannels && src.imageChannels != 2 && src.imageChannels != C)
    diags.report(Code::E0215, src.sourceSpan,
                 fmt::format("images(…) converts to {} channel(s), but `{}` is declared {} with {}", src.imageChannels,
                             ds.sampleName, fmt::format("{}{}", dtypeName(t.dtype), t.shape.str()), C))
        .primary("`channels` here")
        .help(fmt::format("make them agree: `channels: {}`, or declare the sample with {} channel(s)", C, src.imageChannels));
  if (src.imageHeight && (src.imageHeight != H || src.imageWidth != W))
    diags.report(Code::E0215, src.sourceSpan,
                 fmt::format("images(…) resizes to [{}, {}], but `{}` is declared {}", src.imageHeight, src.imageWidth,
                             ds.sampleName, fmt::format("{}{}", dtypeName(t.dtype), t.shape.str())))
        .primary("`size` here")
        .help(fmt::format("make them agree: `size: [{}, {}]`", H, W));
  if (!ds.labelName.empty() && !ds.label.poisoned && (ds.label.kind != SemKind::Class || ds.label.classes <= 0 || !ds.label.shape.dims.empty()))
    diags.report(Code::E0215, ds.labelTypeSpan,
                 fmt::format("images(…) labels each image with its class folder's index, but `{}` is declared {}",
                             ds.labelName, ds.label.str()))
        .primary("declared here")
        .help("declare the label as `label kind: class<C>`, C the number of class folders");
}

// A text(…, seq: T) split gives windows of T token ids (integers: i32[T], or i64[T]; u8[T] for bytes) and the
// next token at every step (class<V>[T]).
void Analyzer::checkTextSource(const Dataset& ds, const DataSource& src) {
  const Type& t = ds.sample;
  if (t.poisoned) return;
  const auto& d = t.shape.dims;
  const bool intType = t.dtype == DType::I32 || t.dtype == DType::I64 || (t.dtype == DType::U8 && !src.textChars);
  if (!intType || t.shape.unknownRank || d.size() != 1 || !d[0].isConst() || d[0].value != src.textSeq) {
    diags.report(Code::E0215, ds.sampleTypeSpan,
                 fmt::format("text(…, seq: {}) gives windows of {} token ids, i32[{}], but `{}` is declared {}", src.textSeq,
                             src.textSeq, src.textSeq, ds.sampleName, fmt::format("{}{}", dtypeName(t.dtype), t.shape.str())))
        .primary("declared here")
        .label(src.sourceSpan, "the source")
        .help(fmt::format("declare the sample as `i32[{}]` (embed it with `embedding(vocab: V, dim: …)`)", src.textSeq));
    return;
  }
  const auto& ld = ds.label.shape.dims;
  if (!ds.labelName.empty() && !ds.label.poisoned &&
      (ds.label.kind != SemKind::Class || ds.label.classes <= 0 || ld.size() != 1 || !ld[0].isConst() || ld[0].value != src.textSeq))
    diags.report(Code::E0215, ds.labelTypeSpan,
                 fmt::format("text(…, seq: {}) labels every step with the next token, class<V>[{}], but `{}` is declared {}",
                             src.textSeq, src.textSeq, ds.labelName, ds.label.str()))
        .primary("declared here")
        .help(fmt::format("declare the label as `class<V>[{}]`, V at least the vocabulary's size plus one (id 0: unknown tokens)",
                          src.textSeq));
}

}  // namespace dls::sema
