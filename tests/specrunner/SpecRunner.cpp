// dlspec_specrunner: checks spec files against the expectations written inline in them.
//
//   dlspec_specrunner --root DIR [FILE...]      files relative to DIR; none: every *.dls under
//                                               DIR/tests/specs and DIR/specs
//   dlspec_specrunner --root DIR --generated NAME   one of the cases built here at run time
//   dlspec_specrunner --root DIR --dlspec BIN --doc docs/diagnostics/E0013.md
//   dlspec_specrunner --root DIR --doc-coverage
//
// Expectations, as in rustc's UI tests and MLIR's invalid.mlir files:
//   // expect-error[E0013]          a diagnostic with this code and severity on this line
//   // expect-error[E0013]@+1       ... on the next line (@-2: two lines up)
//   // expect-warning[W0016]:14     ... starting at column 14 (code points, 1-based)
//   // expect-error[E0001]@file     anywhere or without a location; only in *.fail.dls files
//   // dlspec-check: --data         (a line of its own) also run the data checks, as `dlspec check --data`
// A file without expectations must produce no diagnostic at all. Exit status 0 when every file agrees.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <pthread.h>
#include <sstream>

#include "Runner.h"

namespace fs = std::filesystem;
using namespace dls::specrunner;

namespace {

bool endsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// One case: a name (a path or generated/NAME.dls) and its text.
// `extra` holds expectations for texts that cannot carry their own (an empty file).
std::string runCase(const std::string& name, std::string text, const std::string& extra = {},
                    const std::string& diskPath = {}) {
  std::vector<std::string> problems;
  auto exps = parseExpectations(text, endsWith(name, ".fail.dls"), problems);
  for (auto& e : parseExpectations(extra, true, problems)) exps.push_back(e);
  if (!problems.empty()) {
    std::string r = fmt::format("FAIL {}: malformed expectations\n", name);
    for (auto& p : problems) r += "  " + p + "\n";
    return r;
  }
  // `// dlspec-check: --data` turns on the data checks; data paths resolve against the spec's own file.
  bool data = !diskPath.empty() && text.find("// dlspec-check: --data") != std::string::npos;
  CheckResult res = checkText(data ? diskPath : name, std::move(text), data);
  return compare(name, res, exps);
}

// Cases too big or too binary to commit. Their expectations are written into the generated text.
std::optional<std::string> generated(const std::string& name) {
  const std::string net = "network N(x: f32[N, 4]) -> real[N, 4] {\n";
  if (name == "empty_file") return "";
  if (name == "nul_byte")
    return "dlspec 1\n\n// expect-error[E0004]@+1:40\n" + net.substr(0, net.size() - 1) + std::string(1, '\0') +
           "\n  return x\n}\n";
  if (name == "control_char")
    return "dlspec 1\n\n" + net + "  // expect-error[E0004]@+1:12\n  return x \x01\n  // expect-error[E0004]@+1:3\n  \x1b\n}\n";
  if (name == "invalid_utf8")
    return "dlspec 1\n\n// expect-error[E0001]@+1:13\nnetwork caf\xc3\xa9\xff(x: f32[N, 4]) -> real[N, 4] {\n  return x\n}\n";
  if (name == "binary_garbage") {
    std::string s = "\x7f" "ELF\x02\x01\x01";
    s += std::string(9, '\0');
    uint32_t x = 12345;
    for (int i = 0; i < 64 * 1024; ++i) {
      x = x * 1664525u + 1013904223u;
      s += static_cast<char>(x >> 24);
    }
    return s + "\n// expect-error[E0001]@file\n";
  }
  if (name == "huge_identifier")  // 1 MiB name where a declaration should start: one error, a short message
    return "dlspec 1\n\n// expect-error[E0011]@+1:1\n" + std::string(1 << 20, 'a') + "\n";
  if (name == "deep_parens_2000") {
    std::string s = "dlspec 1\n\n" + net + "  // expect-error[E0010]@+1:" + std::to_string(13 + 256) + "\n  return x * ";
    return s + std::string(2000, '(') + "x" + std::string(2000, ')') + "\n}\n";
  }
  if (name == "long_minus_run")
    return "dlspec 1\n\n" + net + "  // expect-error[E0010]@+1:" + std::to_string(10 + 64) + "\n  return " +
           std::string(100000, '-') + "x\n}\n";
  if (name == "many_errors") {
    // Far more errors than the limit: the parser reports 50, then stops with E0018, once.
    std::string s = "dlspec 1\n\n// expect-error[E0018]@file\n";
    for (int i = 0; i < 50; ++i)
      s += fmt::format("network N{}(x: f32[N]) -> real[N] {{ h = x |> }}  // expect-error[E0013]\n", i);
    for (int i = 50; i < 200; ++i) s += fmt::format("network N{}(x: f32[N]) -> real[N] {{ h = x |> }}\n", i);
    return s;
  }
  return std::nullopt;
}

std::string readFile(const fs::path& p, bool& ok) {
  std::ifstream in(p, std::ios::binary);
  ok = static_cast<bool>(in);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Job {
  int argc;
  char** argv;
  int rc = 2;
};

int run(int argc, char** argv) {
  std::string root = ".", dlspecBin, doc, gen;
  bool coverage = false;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : std::string(); };
    if (a == "--root") root = next();
    else if (a == "--dlspec") dlspecBin = next();
    else if (a == "--doc") doc = next();
    else if (a == "--generated") gen = next();
    else if (a == "--doc-coverage") coverage = true;
    else if (!a.empty() && a[0] == '-') {
      fmt::print(stderr, "dlspec_specrunner: unknown option `{}`\n", a);
      return 2;
    } else files.push_back(a);
  }
  std::string failures;
  size_t cases = 0;
  if (coverage) {
    failures += checkDocCoverage(root);
    ++cases;
  } else if (!doc.empty()) {
    failures += checkDoc(root, doc, dlspecBin);
    ++cases;
  } else if (!gen.empty()) {
    auto text = generated(gen);
    if (!text) {
      fmt::print(stderr, "dlspec_specrunner: no generated case `{}`\n", gen);
      return 2;
    }
    failures += runCase("generated/" + gen + (gen == "binary_garbage" || gen == "many_errors" ? ".fail.dls" : ".dls"), *text,
                        gen == "empty_file" ? "// expect-error[E0014]:1" : "");
    ++cases;
  } else {
    if (files.empty())
      for (const char* dir : {"specs", "tests/specs"})
        if (fs::exists(fs::path(root) / dir))
          for (auto& e : fs::recursive_directory_iterator(fs::path(root) / dir))
            if (e.is_regular_file() && e.path().extension() == ".dls")
              files.push_back(fs::relative(e.path(), root).string());
    std::sort(files.begin(), files.end());
    for (const std::string& f : files) {
      bool ok = false;
      std::string text = readFile(fs::path(root) / f, ok);
      ++cases;
      if (!ok) {
        failures += fmt::format("FAIL {}: cannot read the file\n", f);
        continue;
      }
      failures += runCase(f, std::move(text), {}, (fs::path(root) / f).string());
    }
  }
  if (!failures.empty()) {
    fmt::print(stderr, "{}", failures);
    return 1;
  }
  fmt::print("ok: {} case{}\n", cases, cases == 1 ? "" : "s");
  return 0;
}

void* runJob(void* p) {
  auto* job = static_cast<Job*>(p);
  job->rc = run(job->argc, job->argv);
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  // Like dlspec itself: a large stack, so that deep (but bounded) nesting is a diagnostic, not a crash.
  Job job{argc, argv};
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, size_t{1} << 30);
  pthread_t t;
  if (pthread_create(&t, &attr, runJob, &job) != 0) runJob(&job);
  else pthread_join(t, nullptr);
  pthread_attr_destroy(&attr);
  return job.rc;
}
