#include "support/DiagnosticRenderer.h"
#include "support/LintGroups.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>
#include <map>
#include <nlohmann/json.hpp>

#include "support/Taxonomy.h"

namespace dls {
namespace {

struct Style {
  bool on;
  std::string_view reset() const { return on ? "\033[0m" : ""; }
  std::string_view bold() const { return on ? "\033[1m" : ""; }
  std::string_view sev(Severity s) const {
    if (!on) return "";
    switch (s) {
      case Severity::Error: return "\033[1;31m";
      case Severity::Warning: return "\033[1;33m";
      case Severity::Note: return "\033[1;36m";
    }
    return "";
  }
  std::string_view blue() const { return on ? "\033[1;34m" : ""; }
  std::string_view green() const { return on ? "\033[1;32m" : ""; }
};

// Display form of a source line: tabs as four spaces, control bytes as '?'. Column map in code points.
std::string displayLine(std::string_view line) {
  std::string out;
  for (unsigned char c : line) {
    if (c == '\t') out += "    ";
    else if (c < 0x20 || c == 0x7f) out += '?';
    else out += static_cast<char>(c);
  }
  return out;
}

// Display column (0-based) of byte offset `off` within `line`.
size_t displayCol(std::string_view line, size_t off) {
  size_t col = 0;
  for (size_t i = 0; i < off && i < line.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(line[i]);
    if (c == '\t') col += 4;
    else if ((c & 0xC0) != 0x80) col += 1;
  }
  return col;
}

// Cuts a long display line to a window around [from, to), adjusting the columns.
constexpr size_t kMaxShown = 140;
std::string window(const std::string& disp, size_t& from, size_t& to) {
  // Count in bytes of the display string, which is ASCII except for UTF-8 sequences; good enough for
  // the window, which only matters for pathological lines.
  if (disp.size() <= kMaxShown) return disp;
  size_t start = from > 40 ? from - 40 : 0;
  size_t len = std::min(kMaxShown, disp.size() - start);
  std::string out = (start > 0 ? "…" : "") + disp.substr(start, len) + (start + len < disp.size() ? "…" : "");
  size_t shift = start > 0 ? start - 1 : 0;
  from -= std::min(from, shift);
  to = std::min(to - std::min(to, shift), len + 1);
  return out;
}

struct Mark {
  uint32_t line;
  size_t from, to;  // display columns
  bool primary;
  std::string text;
};

}  // namespace

static void renderOne(std::string& out, const SourceManager& sm, const Diagnostic& d, const Style& st) {
  const CodeInfo& info = codeInfo(d.code);
  out += fmt::format("{}{}[{}]{}{}: {}{}\n", st.sev(d.severity), severityName(d.severity), info.id, st.reset(),
                     st.bold(), d.message, st.reset());
  if (!d.span.valid()) {
    if (!d.file.empty()) out += fmt::format("  {}-->{} {}\n", st.blue(), st.reset(), d.file);
  } else {
    LineCol lc = sm.lineCol(d.span);
    out += fmt::format("  {}-->{} {}:{}:{}\n", st.blue(), st.reset(), sm.path(d.span.file), lc.line, lc.col);
    std::vector<Mark> marks;
    auto addMark = [&](Span s, bool primary, const std::string& text) {
      if (!s.valid() || s.file != d.span.file) return;
      LineCol b = sm.lineCol(s.file, s.begin);
      std::string_view line = sm.lineText(s.file, b.line);
      uint32_t lineStart = sm.offsetOf(s.file, b.line, 1);
      size_t from = displayCol(line, s.begin - lineStart);
      size_t endOff = std::min<size_t>(s.end > s.begin ? s.end - lineStart : s.begin - lineStart + 1, line.size());
      size_t to = std::max(from + 1, displayCol(line, endOff));
      marks.push_back({b.line, from, to, primary, text});
    };
    addMark(d.span, true, d.primaryLabel);
    for (const Label& l : d.labels) addMark(l.span, false, l.message);
    std::stable_sort(marks.begin(), marks.end(), [](const Mark& a, const Mark& b) { return a.line < b.line; });
    uint32_t maxLine = 0;
    for (const Mark& m : marks) maxLine = std::max(maxLine, m.line);
    size_t w = std::to_string(maxLine).size();
    std::string pad(w, ' ');
    out += fmt::format("{} {}|{}\n", pad, st.blue(), st.reset());
    uint32_t prev = 0;
    for (size_t i = 0; i < marks.size();) {
      uint32_t ln = marks[i].line;
      if (prev && ln > prev + 1) out += fmt::format("{}...{}\n", st.blue(), st.reset());
      std::string disp = displayLine(sm.lineText(d.span.file, ln));
      size_t j = i;
      // Window only from the first mark on the line: long lines are rare and one window suffices.
      size_t f0 = marks[i].from, t0 = marks[i].to;
      std::string shown = window(disp, f0, t0);
      size_t shift = marks[i].from - f0;
      out += fmt::format("{}{:>{}} |{} {}\n", st.blue(), ln, w, st.reset(), shown);
      // The marks of this line, as display ranges; sorted left to right.
      struct Under {
        size_t from, to;
        const Mark* m;
      };
      std::vector<Under> row;
      for (; j < marks.size() && marks[j].line == ln; ++j) {
        const Mark& m = marks[j];
        size_t from = m.from >= shift ? m.from - shift : 0;
        size_t to = std::max(from + 1, m.to >= shift ? m.to - shift : from + 1);
        row.push_back({from, std::min(to, from + kMaxShown), &m});
      }
      std::stable_sort(row.begin(), row.end(), [](const Under& a, const Under& b) { return a.from < b.from; });
      bool disjoint = true;
      for (size_t k = 1; k < row.size(); ++k) disjoint &= row[k - 1].to < row[k].from;
      auto colour = [&](const Mark& m) { return m.primary ? st.sev(d.severity) : st.blue(); };
      if (!disjoint || row.size() == 1) {
        // One underline row per mark.
        for (const Under& u : row)
          out += fmt::format("{} {}|{} {}{}{}{}{}\n", pad, st.blue(), st.reset(), std::string(u.from, ' '), colour(*u.m),
                             std::string(u.to - u.from, u.m->primary ? '^' : '-'),
                             u.m->text.empty() ? "" : " " + u.m->text, st.reset());
      } else {
        // rustc's layout: all underlines on one row, the rightmost label inline, the others hung below
        // their underline with a `|` connector.
        std::string line;
        size_t col = 0;
        for (const Under& u : row) {
          line += std::string(u.from - col, ' ') + std::string(colour(*u.m)) +
                  std::string(u.to - u.from, u.m->primary ? '^' : '-') + std::string(st.reset());
          col = u.to;
        }
        if (!row.back().m->text.empty()) line += " " + std::string(colour(*row.back().m)) + row.back().m->text + std::string(st.reset());
        out += fmt::format("{} {}|{} {}\n", pad, st.blue(), st.reset(), line);
        for (size_t k = row.size() - 1; k-- > 0;) {
          if (row[k].m->text.empty()) continue;
          std::string bars;
          size_t c = 0;
          for (size_t q = 0; q <= k; ++q) {
            if (row[q].m->text.empty()) continue;
            bars += std::string(row[q].from - c, ' ') + std::string(colour(*row[q].m)) + "|" + std::string(st.reset());
            c = row[q].from + 1;
          }
          out += fmt::format("{} {}|{} {}\n", pad, st.blue(), st.reset(), bars);
          std::string text;
          c = 0;
          for (size_t q = 0; q < k; ++q) {
            if (row[q].m->text.empty()) continue;
            text += std::string(row[q].from - c, ' ') + std::string(colour(*row[q].m)) + "|" + std::string(st.reset());
            c = row[q].from + 1;
          }
          text += std::string(row[k].from - c, ' ') + std::string(colour(*row[k].m)) + row[k].m->text + std::string(st.reset());
          out += fmt::format("{} {}|{} {}\n", pad, st.blue(), st.reset(), text);
        }
      }
      prev = ln;
      i = j;
    }
    // Labels in other files get their own location line.
    for (const Label& l : d.labels)
      if (l.span.valid() && l.span.file != d.span.file) {
        LineCol lc2 = sm.lineCol(l.span);
        out += fmt::format("{} {}={} note: {} ({}:{}:{})\n", pad, st.blue(), st.reset(), l.message,
                           sm.path(l.span.file), lc2.line, lc2.col);
      }
  }
  std::string pad = d.span.valid() ? std::string(std::to_string(sm.lineCol(d.span).line).size(), ' ') : "";
  for (const Label& l : d.labels) (void)l;
  if (!info.taxonomy.empty())
    out += fmt::format("{} {}={} {}taxonomy{}: {}\n", pad, st.blue(), st.reset(), st.bold(), st.reset(), info.taxonomy);
  for (const std::string& n : d.notes)
    out += fmt::format("{} {}={} {}note{}: {}\n", pad, st.blue(), st.reset(), st.bold(), st.reset(), n);
  for (const std::string& h : d.helps)
    out += fmt::format("{} {}={} {}help{}: {}\n", pad, st.blue(), st.reset(), st.green(), st.reset(), h);
  for (const FixIt& f : d.fixits) {
    if (!f.span.valid()) continue;
    LineCol lc = sm.lineCol(f.span);
    std::string_view old = sm.text(f.span);
    if (old.empty())
      out += fmt::format("{} {}={} {}fix{}: insert `{}` at {}:{}\n", pad, st.blue(), st.reset(), st.green(), st.reset(),
                         f.replacement, lc.line, lc.col);
    else if (f.replacement.empty())
      out += fmt::format("{} {}={} {}fix{}: remove `{}` at {}:{}\n", pad, st.blue(), st.reset(), st.green(), st.reset(),
                         old.substr(0, 80), lc.line, lc.col);
    else
      out += fmt::format("{} {}={} {}fix{}: replace `{}` with `{}` at {}:{}\n", pad, st.blue(), st.reset(), st.green(),
                         st.reset(), old.substr(0, 80), f.replacement, lc.line, lc.col);
  }
  out += "\n";
}

std::string renderText(const SourceManager& sm, const std::vector<Diagnostic>& diags, const RenderOptions& opt) {
  std::string out;
  Style st{opt.color};
  for (const Diagnostic& d : diags) renderOne(out, sm, d, st);
  return out;
}

std::string summaryLine(const std::vector<Diagnostic>& diags, bool color) {
  size_t e = 0, w = 0;
  for (const Diagnostic& d : diags) {
    if (d.severity == Severity::Error) ++e;
    else if (d.severity == Severity::Warning) ++w;
  }
  if (!e && !w) return {};
  Style st{color};
  std::string parts;
  if (e) parts += fmt::format("{}{} error{}{}", st.sev(Severity::Error), e, e == 1 ? "" : "s", st.reset());
  if (w) parts += fmt::format("{}{}{} warning{}{}", e ? ", " : "", st.sev(Severity::Warning), w, w == 1 ? "" : "s", st.reset());
  return parts + " emitted\n";
}

// ---- machine formats (nlohmann::json; invalid UTF-8 in messages or paths becomes U+FFFD) ----

using nlohmann::json;

static std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n"; }

static std::string_view levelName(Severity s) {
  return s == Severity::Error ? "error" : s == Severity::Warning ? "warning" : "note";
}

static json jsonSpan(const SourceManager& sm, Span s) {
  LineCol b = sm.lineCol(s.file, s.begin), e = sm.lineCol(s.file, s.end);
  return {{"file", sm.path(s.file)}, {"line", b.line},      {"column", b.col},          {"end_line", e.line},
          {"end_column", e.col},     {"offset", s.begin},   {"length", s.end - s.begin}};
}

static json jsonDiagnostic(const SourceManager& sm, const Diagnostic& d, const std::string& path) {
  const CodeInfo& info = codeInfo(d.code);
  json j = {{"code", info.id}, {"severity", severityName(d.severity)}, {"name", info.name}, {"message", d.message}};
  if (!info.taxonomy.empty()) j["taxonomy"] = info.taxonomy;
  j["group"] = lintGroupName(lintGroup(d.code));
  if (d.secondaryTo >= 0) j["secondary_to"] = d.secondaryTo;
  if (d.span.valid()) {
    j["file"] = sm.path(d.span.file);
    j["span"] = jsonSpan(sm, d.span);
  } else {
    j["file"] = d.file.empty() ? path : d.file;
  }
  if (!d.primaryLabel.empty()) j["label"] = d.primaryLabel;
  json labels = json::array();
  for (const Label& l : d.labels) {
    json lj = {{"message", l.message}};
    if (l.span.valid()) lj["span"] = jsonSpan(sm, l.span);
    labels.push_back(std::move(lj));
  }
  j["labels"] = std::move(labels);
  j["notes"] = d.notes;
  j["help"] = d.helps;
  json fixits = json::array();
  for (const FixIt& f : d.fixits) {
    json fj = {{"replacement", f.replacement}, {"applicability", applicabilityName(f.applicability)}};
    if (f.span.valid()) fj["span"] = jsonSpan(sm, f.span);
    fixits.push_back(std::move(fj));
  }
  j["fixits"] = std::move(fixits);
  return j;
}

std::string renderJson(const std::vector<FileDiagnostics>& files, const RenderOptions& opt) {
  json doc = {{"version", kJsonFormatVersion},
              {"tool", {{"name", "dlspec"}, {"version", opt.toolVersion}}}};
  json all = json::array(), perFile = json::array();
  size_t counts[3] = {0, 0, 0};
  for (const FileDiagnostics& f : files) {
    json list = json::array();
    for (const Diagnostic& d : f.diags) {
      list.push_back(jsonDiagnostic(*f.sources, d, f.path));
      ++counts[static_cast<int>(d.severity)];
    }
    all.insert(all.end(), list.begin(), list.end());
    perFile.push_back({{"path", f.path}, {"diagnostics", std::move(list)}});
  }
  doc["files"] = std::move(perFile);
  doc["diagnostics"] = std::move(all);
  doc["summary"] = {{"errors", counts[static_cast<int>(Severity::Error)]},
                    {"warnings", counts[static_cast<int>(Severity::Warning)]},
                    {"notes", counts[static_cast<int>(Severity::Note)]}};
  return dump(doc);
}

// The path of the one file a SourceManager was loaded for: its first file.
static std::string mainPath(const SourceManager& sm) { return sm.fileCount() ? sm.path(0) : std::string(); }

static std::vector<FileDiagnostics> oneFile(const SourceManager& sm, const std::vector<Diagnostic>& diags) {
  std::vector<FileDiagnostics> files(1);
  files[0].path = mainPath(sm);
  files[0].sources = &sm;
  files[0].diags = diags;
  return files;
}

std::string renderJson(const SourceManager& sm, const std::vector<Diagnostic>& diags) {
  return renderJson(oneFile(sm, diags), RenderOptions{});
}

// ---- SARIF 2.1.0 ----

// Percent-encodes a path for a URI reference (RFC 3986: unreserved characters and '/' stay).
static std::string uriPath(std::string_view path) {
  std::string out;
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') out += static_cast<char>(c);
    else out += fmt::format("%{:02X}", c);
  }
  return out;
}

// An artifactLocation: relative to %SRCROOT% (the working directory) when the file is under it, else an
// absolute file: URI.
static json artifactLocation(std::string_view path, const RenderOptions& opt) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path p(path);
  fs::path abs = p.is_absolute() ? p : fs::path(opt.srcRoot) / p;
  abs = abs.lexically_normal();
  fs::path rel = abs.lexically_relative(fs::path(opt.srcRoot).lexically_normal());
  if (!rel.empty() && *rel.begin() != "..") return {{"uri", uriPath(rel.generic_string())}, {"uriBaseId", "%SRCROOT%"}};
  return {{"uri", "file://" + uriPath(abs.generic_string())}};
}

static json sarifRegion(const SourceManager& sm, Span s) {
  LineCol b = sm.lineCol(s.file, s.begin), e = sm.lineCol(s.file, std::max(s.end, s.begin));
  return {{"startLine", b.line}, {"startColumn", b.col},     {"endLine", e.line},
          {"endColumn", e.col},  {"charOffset", s.begin},    {"charLength", s.end - s.begin}};
}

static json sarifLocation(const SourceManager& sm, Span s, const std::string& message, const RenderOptions& opt) {
  json loc = {{"physicalLocation", {{"artifactLocation", artifactLocation(sm.path(s.file), opt)}, {"region", sarifRegion(sm, s)}}}};
  if (!message.empty()) loc["message"] = {{"text", message}};
  return loc;
}

// A code's name as words: "unused_value" -> "unused value".
static std::string words(std::string_view name) {
  std::string out(name);
  for (char& c : out)
    if (c == '_') c = ' ';
  return out;
}

std::string defaultHelpUriBase() {
  const char* env = std::getenv(std::string(kHelpUriBaseEnv).c_str());
  std::string base = env && *env ? std::string(env) : "file://" + uriPath(DLSPEC_SOURCE_DIR) + "/docs/diagnostics/";
  if (base.back() != '/') base += '/';
  return base;
}

std::string renderSarif(const std::vector<FileDiagnostics>& files, const RenderOptions& optIn) {
  // %SRCROOT% as an absolute directory without a trailing '/'.
  RenderOptions opt = optIn;
  opt.srcRoot = std::filesystem::absolute(optIn.srcRoot).lexically_normal().generic_string();
  while (opt.srcRoot.size() > 1 && opt.srcRoot.back() == '/') opt.srcRoot.pop_back();
  if (!opt.helpUriBase.empty() && opt.helpUriBase.back() != '/') opt.helpUriBase += '/';
  // Rules: every code that occurs, in code order; taxa: every taxonomy path of those rules.
  std::map<std::string_view, const CodeInfo*> used;
  for (const FileDiagnostics& f : files)
    for (const Diagnostic& d : f.diags) used[codeInfo(d.code).id] = &codeInfo(d.code);
  std::map<std::string_view, size_t> taxonIndex;
  json taxa = json::array();
  for (auto& [id, info] : used)
    if (!info->taxonomy.empty() && !taxonIndex.count(info->taxonomy)) {
      taxonIndex[info->taxonomy] = taxa.size();
      std::vector<std::string_view> parts = taxonomyParts(info->taxonomy);
      taxa.push_back({{"id", info->taxonomy}, {"name", parts.back()}, {"shortDescription", {{"text", info->taxonomy}}}});
    }
  auto taxonRef = [&](std::string_view path) {
    return json{{"id", path}, {"index", taxonIndex[path]}, {"toolComponent", {{"name", kTaxonomyName}, {"index", 0}}}};
  };
  std::map<std::string_view, size_t> ruleIndex;
  json rules = json::array();
  for (auto& [id, info] : used) {
    ruleIndex[id] = rules.size();
    Explanation ex = opt.explanation ? opt.explanation(id) : Explanation{};
    json rule = {{"id", id},
                 {"name", info->name},
                 {"shortDescription", {{"text", ex.title.empty() ? words(info->name) : ex.title}}},
                 {"helpUri", opt.helpUriBase + std::string(id) + ".md"},
                 {"defaultConfiguration", {{"level", levelName(info->severity)}}}};
    rule["properties"] = {{"group", lintGroupName(lintGroup(info->code))},
                          {"tags", json::array({std::string(lintGroupName(lintGroup(info->code)))})}};
    if (!ex.summary.empty()) rule["fullDescription"] = {{"text", ex.summary}};
    if (!ex.help.empty()) rule["help"] = {{"text", ex.help}};
    if (!info->taxonomy.empty())
      rule["relationships"] = json::array({{{"target", taxonRef(info->taxonomy)}, {"kinds", json::array({"superset"})}}});
    rules.push_back(std::move(rule));
  }
  json results = json::array();
  for (const FileDiagnostics& f : files) {
    const SourceManager& sm = *f.sources;
    const size_t firstResult = results.size();  // this file's results follow one another
    for (const Diagnostic& d : f.diags) {
      const CodeInfo& info = codeInfo(d.code);
      std::string text = d.message;
      for (const std::string& n : d.notes) text += "\nnote: " + n;
      for (const std::string& h : d.helps) text += "\nhelp: " + h;
      json r = {{"ruleId", info.id}, {"ruleIndex", ruleIndex[info.id]}, {"level", levelName(d.severity)},
                {"message", {{"text", text}}}};
      if (d.span.valid()) {
        r["locations"] = json::array({sarifLocation(sm, d.span, d.primaryLabel, opt)});
        json related = json::array();
        for (size_t i = 0; i < d.labels.size(); ++i) {
          if (!d.labels[i].span.valid()) continue;
          json loc = sarifLocation(sm, d.labels[i].span, d.labels[i].message, opt);
          loc["id"] = i;
          related.push_back(std::move(loc));
        }
        if (!related.empty()) r["relatedLocations"] = std::move(related);
      } else {
        r["locations"] = json::array({{{"physicalLocation", {{"artifactLocation", artifactLocation(d.file.empty() ? f.path : d.file, opt)}}}}});
      }
      json fixes = json::array();
      for (const FixIt& fx : d.fixits) {
        if (!fx.span.valid()) continue;
        std::string_view old = sm.text(fx.span);
        std::string what = old.empty() ? fmt::format("insert `{}`", fx.replacement)
                           : fx.replacement.empty() ? fmt::format("remove `{}`", old.substr(0, 80))
                                                    : fmt::format("replace `{}` with `{}`", old.substr(0, 80), fx.replacement);
        fixes.push_back({{"description", {{"text", what}}},
                         {"properties", {{"applicability", applicabilityName(fx.applicability)}}},
                         {"artifactChanges", json::array({{{"artifactLocation", artifactLocation(sm.path(fx.span.file), opt)},
                                                           {"replacements", json::array({{{"deletedRegion", sarifRegion(sm, fx.span)},
                                                                                          {"insertedContent", {{"text", fx.replacement}}}}})}}})}});
      }
      if (!fixes.empty()) r["fixes"] = std::move(fixes);
      if (!info.taxonomy.empty()) r["taxa"] = json::array({taxonRef(info.taxonomy)});
      if (d.secondaryTo >= 0 && static_cast<size_t>(d.secondaryTo) < f.diags.size())
        r["properties"] = {{"secondaryTo", {{"ruleId", codeInfo(f.diags[static_cast<size_t>(d.secondaryTo)].code).id},
                                             {"resultIndex", firstResult + static_cast<size_t>(d.secondaryTo)}}}};
      results.push_back(std::move(r));
    }
  }
  json artifacts = json::array();
  for (const FileDiagnostics& f : files) artifacts.push_back({{"location", artifactLocation(f.path, opt)}});
  json run = {
      {"tool",
       {{"driver",
         {{"name", "dlspec"},
          {"version", opt.toolVersion},
          {"informationUri", opt.helpUriBase},
          {"rules", std::move(rules)},
          {"supportedTaxonomies", json::array({{{"name", kTaxonomyName}, {"index", 0}}})}}}}},
      {"taxonomies", json::array({{{"name", kTaxonomyName},
                                   {"fullName", kTaxonomyFullName},
                                   {"informationUri", kTaxonomyUri},
                                   {"isComprehensive", false},
                                   {"taxa", std::move(taxa)}}})},
      {"originalUriBaseIds", {{"%SRCROOT%", {{"uri", "file://" + uriPath(opt.srcRoot == "/" ? "/" : opt.srcRoot + "/")}}}}},
      {"artifacts", std::move(artifacts)},
      {"columnKind", "unicodeCodePoints"},
      {"results", std::move(results)}};
  json log = {{"$schema", "https://json.schemastore.org/sarif-2.1.0.json"}, {"version", "2.1.0"},
              {"runs", json::array({std::move(run)})}};
  return dump(log);
}

std::string renderSarif(const SourceManager& sm, const std::vector<Diagnostic>& diags, const RenderOptions& opt) {
  return renderSarif(oneFile(sm, diags), opt);
}

std::string render(DiagFormat f, const SourceManager& sm, const std::vector<Diagnostic>& diags, const RenderOptions& opt) {
  switch (f) {
    case DiagFormat::Text: return renderText(sm, diags, opt);
    case DiagFormat::Json: return renderJson(oneFile(sm, diags), opt);
    case DiagFormat::Sarif: return renderSarif(sm, diags, opt);
  }
  return {};
}

}  // namespace dls
