#include "support/DiagnosticRenderer.h"

#include <algorithm>
#include <fmt/format.h>
#include <map>

#include "support/Json.h"

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

static void jsonSpan(std::string& out, const SourceManager& sm, Span s) {
  LineCol b = sm.lineCol(s.file, s.begin), e = sm.lineCol(s.file, s.end);
  out += fmt::format("{{\"file\":{},\"line\":{},\"column\":{},\"end_line\":{},\"end_column\":{},\"offset\":{},\"length\":{}}}",
                     jsonQuote(sm.path(s.file)), b.line, b.col, e.line, e.col, s.begin, s.end - s.begin);
}

std::string renderJson(const SourceManager& sm, const std::vector<Diagnostic>& diags) {
  std::string out;
  for (const Diagnostic& d : diags) {
    const CodeInfo& info = codeInfo(d.code);
    out += "{\"code\":" + jsonQuote(info.id) + ",\"severity\":" + jsonQuote(severityName(d.severity)) +
           ",\"name\":" + jsonQuote(info.name) + ",\"message\":" + jsonQuote(d.message);
    if (!info.taxonomy.empty()) out += ",\"taxonomy\":" + jsonQuote(info.taxonomy);
    if (d.span.valid()) {
      out += ",\"span\":";
      jsonSpan(out, sm, d.span);
    } else if (!d.file.empty()) {
      out += ",\"file\":" + jsonQuote(d.file);
    }
    if (!d.primaryLabel.empty()) out += ",\"label\":" + jsonQuote(d.primaryLabel);
    out += ",\"labels\":[";
    for (size_t i = 0; i < d.labels.size(); ++i) {
      if (i) out += ',';
      out += "{\"message\":" + jsonQuote(d.labels[i].message);
      if (d.labels[i].span.valid()) {
        out += ",\"span\":";
        jsonSpan(out, sm, d.labels[i].span);
      }
      out += '}';
    }
    out += "],\"notes\":[";
    for (size_t i = 0; i < d.notes.size(); ++i) out += (i ? "," : "") + jsonQuote(d.notes[i]);
    out += "],\"help\":[";
    for (size_t i = 0; i < d.helps.size(); ++i) out += (i ? "," : "") + jsonQuote(d.helps[i]);
    out += "],\"fixits\":[";
    for (size_t i = 0; i < d.fixits.size(); ++i) {
      if (i) out += ',';
      out += "{\"replacement\":" + jsonQuote(d.fixits[i].replacement);
      if (d.fixits[i].span.valid()) {
        out += ",\"span\":";
        jsonSpan(out, sm, d.fixits[i].span);
      }
      out += '}';
    }
    out += "]}\n";
  }
  return out;
}

// A message template as a rule description: each `{…}` placeholder becomes `…`.
static std::string describeTemplate(std::string_view tpl) {
  std::string out;
  for (size_t i = 0; i < tpl.size(); ++i) {
    if (tpl[i] == '{') {
      size_t close = tpl.find('}', i);
      if (close != std::string_view::npos) {
        out += "…";
        i = close;
        continue;
      }
    }
    out += tpl[i];
  }
  return out;
}

static std::string sarifRegion(const SourceManager& sm, Span s) {
  LineCol b = sm.lineCol(s.file, s.begin), e = sm.lineCol(s.file, std::max(s.end, s.begin));
  return fmt::format("{{\"startLine\":{},\"startColumn\":{},\"endLine\":{},\"endColumn\":{},\"charOffset\":{},\"charLength\":{}}}",
                     b.line, b.col, e.line, e.col, s.begin, s.end - s.begin);
}

static std::string sarifLocation(const SourceManager& sm, Span s, const std::string& message) {
  std::string out = "{\"physicalLocation\":{\"artifactLocation\":{\"uri\":" + jsonQuote(sm.path(s.file)) +
                    "},\"region\":" + sarifRegion(sm, s) + "}";
  if (!message.empty()) out += ",\"message\":{\"text\":" + jsonQuote(message) + "}";
  return out + "}";
}

std::string renderSarif(const SourceManager& sm, const std::vector<Diagnostic>& diags, const RenderOptions& opt) {
  // Rules: every code that occurs, with its short description and taxonomy path.
  std::map<std::string_view, const CodeInfo*> used;
  for (const Diagnostic& d : diags) used[codeInfo(d.code).id] = &codeInfo(d.code);
  std::map<std::string_view, size_t> ruleIndex;
  std::string rules;
  for (auto& [id, info] : used) {
    if (!rules.empty()) rules += ',';
    ruleIndex[id] = ruleIndex.size();
    rules += "{\"id\":" + jsonQuote(id) + ",\"name\":" + jsonQuote(info->name) +
             ",\"shortDescription\":{\"text\":" + jsonQuote(describeTemplate(info->message)) + "}" +
             ",\"helpUri\":" + jsonQuote(fmt::format("docs/diagnostics/{}.md", id)) +
             ",\"defaultConfiguration\":{\"level\":" +
             jsonQuote(info->severity == Severity::Error ? "error" : info->severity == Severity::Warning ? "warning" : "note") + "}" +
             ",\"properties\":{\"taxonomy\":" + jsonQuote(info->taxonomy) + "}}";
  }
  std::string results;
  for (const Diagnostic& d : diags) {
    const CodeInfo& info = codeInfo(d.code);
    if (!results.empty()) results += ',';
    std::string level = d.severity == Severity::Error ? "error" : d.severity == Severity::Warning ? "warning" : "note";
    std::string text = d.message;
    for (const std::string& h : d.helps) text += "\nhelp: " + h;
    results += "{\"ruleId\":" + jsonQuote(info.id) + fmt::format(",\"ruleIndex\":{}", ruleIndex[info.id]) +
               ",\"level\":" + jsonQuote(level) + ",\"message\":{\"text\":" + jsonQuote(text) + "}";
    if (d.span.valid()) {
      results += ",\"locations\":[" + sarifLocation(sm, d.span, d.primaryLabel) + "]";
      std::string related;
      for (size_t i = 0; i < d.labels.size(); ++i) {
        if (!d.labels[i].span.valid()) continue;
        if (!related.empty()) related += ',';
        std::string loc = sarifLocation(sm, d.labels[i].span, d.labels[i].message);
        related += fmt::format("{{\"id\":{},", i) + loc.substr(1);
      }
      if (!related.empty()) results += ",\"relatedLocations\":[" + related + "]";
      std::string fixes;
      for (const FixIt& f : d.fixits) {
        if (!f.span.valid()) continue;
        if (!fixes.empty()) fixes += ',';
        fixes += "{\"description\":{\"text\":" + jsonQuote("replace with `" + f.replacement + "`") +
                 "},\"artifactChanges\":[{\"artifactLocation\":{\"uri\":" + jsonQuote(sm.path(f.span.file)) +
                 "},\"replacements\":[{\"deletedRegion\":" + sarifRegion(sm, f.span) +
                 ",\"insertedContent\":{\"text\":" + jsonQuote(f.replacement) + "}}]}]}";
      }
      if (!fixes.empty()) results += ",\"fixes\":[" + fixes + "]";
    } else if (!d.file.empty()) {
      results += ",\"locations\":[{\"physicalLocation\":{\"artifactLocation\":{\"uri\":" + jsonQuote(d.file) + "}}}]";
    }
    if (!info.taxonomy.empty()) results += ",\"properties\":{\"taxonomy\":" + jsonQuote(info.taxonomy) + "}";
    results += "}";
  }
  return "{\"$schema\":\"https://json.schemastore.org/sarif-2.1.0.json\",\"version\":\"2.1.0\",\"runs\":[{\"tool\":{\"driver\":"
         "{\"name\":\"dlspec\",\"version\":" + jsonQuote(opt.toolVersion) +
         ",\"rules\":[" + rules + "]}},\"columnKind\":\"unicodeCodePoints\",\"results\":[" + results + "]}]}\n";
}

std::string render(DiagFormat f, const SourceManager& sm, const std::vector<Diagnostic>& diags, const RenderOptions& opt) {
  switch (f) {
    case DiagFormat::Text: return renderText(sm, diags, opt);
    case DiagFormat::Json: return renderJson(sm, diags);
    case DiagFormat::Sarif: return renderSarif(sm, diags, opt);
  }
  return {};
}

}  // namespace dls
