// dlspec fix FILE... : applies the diagnostics' fix-its to the files and checks them again, until no fix-it
// is left to apply (as rustfix does: only the machine-applicable ones unless --unsafe-fixes), then prints what
// is left.
#include <algorithm>
#include <cstdio>
#include <fmt/format.h>
#include <memory>

#include "driver/Command.h"
#include "driver/Rewrite.h"

namespace dls {

static const std::string_view kUsage = commandUsage("fix");

namespace {

// One diagnostic's fix-its in the file: applied together or not at all.
struct Suggestion {
  uint32_t begin = 0, end = 0;  // the range all its edits cover
  std::vector<FixIt> edits;
};

// The suggestions of `diags` that apply to `file`, in source order, without overlaps (the first one wins; the
// next round sees the rest again).
std::vector<Suggestion> applicable(const std::vector<Diagnostic>& diags, FileId file, bool unsafe) {
  std::vector<Suggestion> all;
  for (const Diagnostic& d : diags) {
    Suggestion s;
    bool ok = !d.fixits.empty();
    for (const FixIt& f : d.fixits) {
      ok &= f.span.valid() && f.span.file == file && (unsafe || f.applicability == Applicability::MachineApplicable);
      if (!ok) break;
      if (s.edits.empty()) s.begin = f.span.begin, s.end = f.span.end;
      s.begin = std::min(s.begin, f.span.begin);
      s.end = std::max(s.end, f.span.end);
      s.edits.push_back(f);
    }
    if (ok) all.push_back(std::move(s));
  }
  std::stable_sort(all.begin(), all.end(), [](const Suggestion& a, const Suggestion& b) { return a.begin < b.begin; });
  std::vector<Suggestion> kept;
  for (Suggestion& s : all) {
    if (!kept.empty()) {
      const Suggestion& last = kept.back();
      // Overlapping ranges, or two insertions at one point, would make the result depend on the order.
      if (s.begin < last.end || (s.begin == last.begin && s.begin == last.end)) continue;
    }
    kept.push_back(std::move(s));
  }
  return kept;
}

std::string applyEdits(const std::string& text, const std::vector<Suggestion>& suggestions) {
  std::vector<FixIt> edits;
  for (const Suggestion& s : suggestions) edits.insert(edits.end(), s.edits.begin(), s.edits.end());
  std::stable_sort(edits.begin(), edits.end(), [](const FixIt& a, const FixIt& b) { return a.span.begin > b.span.begin; });
  std::string out = text;
  for (const FixIt& f : edits) out.replace(f.span.begin, f.span.end - f.span.begin, f.replacement);
  return out;
}

}  // namespace

int cmdFix(const std::vector<std::string>& argv) {
  CommonOptions opt;
  Args args;
  if (!parseCommon(argv, opt, args)) return kExitUsage;
  bool dryRun = false, unsafe = false;
  std::vector<std::string> unknown;
  for (const std::string& f : args.flags) {
    if (f == "--dry-run" || f == "-n") dryRun = true;
    else if (f == "--unsafe-fixes") unsafe = true;
    else unknown.push_back(f);
  }
  args.flags = unknown;
  if (!rejectUnknown(args, kUsage)) return kExitUsage;
  if (args.positional.empty()) return usageError("no spec file given", kUsage);
  // A machine-applicable fix-it is what the user meant whatever its lint group: fix applies those of every
  // group (a missing header, a deprecated name, a bare `cuda`) unless --lint-level says otherwise.
  if (!opt.lintLevel) opt.lintLevel = LintGroup::Pedantic;
  constexpr int kMaxRounds = 16;  // each round applies at least one edit; fixes that undo each other stop here
  bool errors = false;
  std::vector<std::unique_ptr<Compilation>> kept;
  std::vector<FileDiagnostics> files;
  for (const std::string& path : args.positional) {
    auto first = std::make_unique<Compilation>();
    if (!applyLevels(opt, first->diags)) return kExitUsage;
    if (!first->load(path)) {
      errors = true;
      if (opt.format == DiagFormat::Text) printDiagnostics(*first, opt);
      else files.push_back({path, &first->sources, first->diags.finish()}), kept.push_back(std::move(first));
      continue;
    }
    const std::string original(first->sources.text(first->file));
    std::string text = original;
    size_t applied = 0;
    std::unique_ptr<Compilation> last;
    for (int round = 0; round <= kMaxRounds; ++round) {
      last = std::make_unique<Compilation>();
      applyLevels(opt, last->diags);
      last->loadText(path, text);
      if (last->parse()) checkSpec(*last, CheckOptions{});
      if (round == kMaxRounds) break;
      std::vector<Suggestion> todo = applicable(last->diags.finish(), last->file, unsafe);
      if (todo.empty()) break;
      std::string next = applyEdits(text, todo);
      if (next == text) break;
      text = std::move(next);
      applied += todo.size();
    }
    if (text != original) {
      if (dryRun) {
        std::fputs(unifiedDiff(path, path + " (fixed)", original, text).c_str(), stdout);
      } else {
        std::string error;
        if (!writeFileAtomically(path, text, error)) {
          last = std::make_unique<Compilation>();
          last->loadText(path, original);
          last->diags.report(Code::E0901, Span{}, path, error);
          errors = true;
          applied = 0;
        }
      }
    }
    // What is left, with the fix-its that need --unsafe-fixes counted.
    std::vector<Diagnostic> left = last->diags.finish();
    size_t unsafeLeft = 0;
    for (const Diagnostic& d : left)
      if (!d.fixits.empty() && !unsafe) ++unsafeLeft;
    errors |= last->diags.hasErrors();
    if (opt.format == DiagFormat::Text) {
      printDiagnostics(*last, opt);
      std::string what = applied == 0 ? std::string("nothing to fix")
                                      : fmt::format("{} {} fix{}", dryRun ? "would apply" : "applied", applied,
                                                    applied == 1 ? "" : "es");
      fmt::print(stderr, "{}: {}", path, what);
      if (unsafeLeft)
        fmt::print(stderr, "; {} more suggestion{} with fix-its that may be wrong (review them, or --unsafe-fixes)",
                   unsafeLeft, unsafeLeft == 1 ? "" : "s");
      fmt::print(stderr, "\n");
    } else {
      files.push_back({path, &last->sources, std::move(left)});
      kept.push_back(std::move(last));
    }
  }
  if (opt.format == DiagFormat::Json) std::fputs(renderJson(files, renderOptions(opt)).c_str(), stdout);
  if (opt.format == DiagFormat::Sarif) std::fputs(renderSarif(files, renderOptions(opt)).c_str(), stdout);
  return errors ? kExitErrors : kExitOk;
}

}  // namespace dls
