// The real dlspec binary: exit codes 0 (clean), 1 (errors in a spec), 2 (usage), and their messages.
#include <catch2/catch.hpp>
#include <string>

#include "RunDlspec.h"

using dls_test::dlspec;
using dls_test::Result;

TEST_CASE("dlspec check: 0 when clean, 1 on errors, 2 on usage errors", "[cli]") {
  CHECK(dlspec("check specs/lenet.dls").rc == 0);
  Result bad = dlspec("check tests/specs/syntax/missing_assign.dls");
  CHECK(bad.rc == 1);
  CHECK(bad.out.find("error[E0013]") != std::string::npos);
  CHECK(bad.out.find("1 error emitted") != std::string::npos);
  // Warnings alone do not fail; --deny makes them errors; --allow drops them.
  CHECK(dlspec("check tests/specs/syntax/missing_version.dls").rc == 0);
  CHECK(dlspec("check --deny W0016 tests/specs/syntax/missing_version.dls").rc == 1);
  Result allowed = dlspec("check --allow W0016 tests/specs/syntax/missing_version.dls");
  CHECK(allowed.rc == 0);
  CHECK(allowed.out.find("W0016") == std::string::npos);
  CHECK(dlspec("check --format=json tests/specs/syntax/missing_assign.dls").out.find("\"code\":\"E0013\"") !=
        std::string::npos);
  CHECK(dlspec("check --format sarif specs/lenet.dls").out.find("\"version\":\"2.1.0\"") != std::string::npos);
}

TEST_CASE("dlspec check: missing file, directory, no file", "[cli]") {
  Result missing = dlspec("check no/such/file.dls");
  CHECK(missing.rc == 1);
  CHECK(missing.out.find("error[E0901]") != std::string::npos);
  Result dir = dlspec("check specs");
  CHECK(dir.rc == 1);
  CHECK(dir.out.find("is a directory") != std::string::npos);
  CHECK(dlspec("check").rc == 2);
}

TEST_CASE("dlspec: bad command lines exit 2 with a useful message", "[cli]") {
  Result unknown = dlspec("chekc specs/lenet.dls");
  CHECK(unknown.rc == 2);
  CHECK(unknown.out.find("error[E0903]: unknown command `chekc`; did you mean `check`?") != std::string::npos);
  Result flag = dlspec("check --frobnicate specs/lenet.dls");
  CHECK(flag.rc == 2);
  CHECK(flag.out.find("unknown option `--frobnicate`") != std::string::npos);
  CHECK(dlspec("check --format=xml specs/lenet.dls").rc == 2);
  CHECK(dlspec("check --deny E9999 specs/lenet.dls").out.find("error[E0902]") != std::string::npos);
  CHECK(dlspec("").rc == 2);
  CHECK(dlspec("--help").rc == 0);
  CHECK(dlspec("--version").rc == 0);
}

TEST_CASE("dlspec explain: a known code, an unknown code, --list", "[cli]") {
  Result known = dlspec("explain E0013");
  CHECK(known.rc == 0);
  CHECK(known.out.rfind("# E0013: ", 0) == 0);
  CHECK(dlspec("explain e0013").rc == 0);
  Result unknown = dlspec("explain E9999");
  CHECK(unknown.rc == 2);
  CHECK(unknown.out.find("error[E0902]") != std::string::npos);
  CHECK(dlspec("explain").rc == 2);
  CHECK(dlspec("explain E0013 E0014").rc == 2);
  Result list = dlspec("explain --list");
  CHECK(list.rc == 0);
  CHECK(list.out.find("W0016") != std::string::npos);
  CHECK(list.out.find("R0205  error    data_shape_mismatch  [run time]") != std::string::npos);
}

TEST_CASE("dlspec explain: every runtime code, from its own table", "[cli]") {
  Result r = dlspec("explain R0205");
  CHECK(r.rc == 0);
  CHECK(r.out.rfind("# R0205: ", 0) == 0);
  CHECK(r.out.find("## What to do") != std::string::npos);
  CHECK(dlspec("explain r0101").rc == 0);
  // Every code of both tables is explained (the docs' own checks are the doc/ tests).
  Result list = dlspec("explain --list");
  size_t codes = 0;
  for (size_t at = 0; at < list.out.size();) {
    size_t nl = list.out.find('\n', at);
    std::string code = list.out.substr(at, 5);
    at = nl == std::string::npos ? list.out.size() : nl + 1;
    INFO(code);
    Result one = dlspec("explain " + code);
    CHECK(one.rc == 0);
    CHECK(one.out.rfind("# " + code + ": ", 0) == 0);
    ++codes;
  }
  CHECK(codes > 150);
  // Runtime codes are not levels of the compiler's commands.
  Result deny = dlspec("check --allow R0102 specs/lenet.dls");
  CHECK(deny.rc == 2);
  CHECK(deny.out.find("reported by the training executable at run time") != std::string::npos);
}

TEST_CASE("dlspec fmt: prints, checks, refuses bad input", "[cli]") {
  CHECK(dlspec("fmt specs/lenet.dls").rc == 0);
  CHECK(dlspec("fmt --check specs/lenet.dls").rc == 0);
  CHECK(dlspec("fmt tests/specs/syntax/missing_assign.dls").rc == 1);
  CHECK(dlspec("fmt --write --check specs/lenet.dls").rc == 2);
  CHECK(dlspec("fmt --bogus specs/lenet.dls").rc == 2);
  CHECK(dlspec("fmt").rc == 2);
  CHECK(dlspec("fmt no/such/file.dls").rc == 1);
}

TEST_CASE("dlspec COMMAND --help: every command describes itself and exits 0", "[cli]") {
  for (const char* cmd : {"check", "fmt", "fix", "init", "explain", "ops", "summary", "graph", "build", "run", "import", "mutate", "lsp"}) {
    INFO(cmd);
    for (const char* flag : {"--help", "-h"}) {
      Result r = dlspec(std::string(cmd) + " " + flag);
      CHECK(r.rc == 0);
      CHECK(r.out.find(std::string("usage: dlspec ") + cmd) != std::string::npos);
      CHECK(r.out.find("--help") != std::string::npos);
    }
  }
  // With other arguments too, and the common options listed where they apply.
  Result check = dlspec("check --help specs/lenet.dls");
  CHECK(check.rc == 0);
  CHECK(check.out.find("--format=text|json|sarif") != std::string::npos);
  CHECK(check.out.find("--data") != std::string::npos);
  // After `--`, arguments belong to the executable `run` starts, not to dlspec.
  CHECK(dlspec("run --help -- --help").rc == 0);
  CHECK(dlspec("--help").out.find("`dlspec COMMAND --help`") != std::string::npos);
  CHECK(dlspec("--help").out.find("  lsp ") != std::string::npos);
  // The language server's own arguments (tests/lsp drives its sessions).
  CHECK(dlspec("lsp --bogus").rc == 2);
  CHECK(dlspec("lsp --debounce-ms=soon").rc == 2);
}

TEST_CASE("dlspec ops: the op reference from the op table", "[cli]") {
  Result all = dlspec("ops");
  CHECK(all.rc == 0);
  for (const char* name : {"conv2d", "relu", "flatten", "random_crop", "batch", "cross_entropy", "adamw", "cosine",
                           "accuracy", "glorot", "csv"})
    CHECK(all.out.find(std::string("  ") + name + " ") != std::string::npos);
  Result conv = dlspec("ops conv2d");
  CHECK(conv.rc == 0);
  CHECK(conv.out.find("| `filters` (1st positional) | integer | required | ≥ 1 |") != std::string::npos);
  CHECK(conv.out.find("h = x |> conv2d(16, 3)") != std::string::npos);
  // A name in two categories prints both; `explain` of an op's name prints the same reference.
  CHECK(dlspec("ops reshape").out.find("*pipeline step*") != std::string::npos);
  CHECK(dlspec("explain conv2d").out == conv.out);
  Result typo = dlspec("ops conv2");
  CHECK(typo.rc == 2);
  CHECK(typo.out.find("did you mean `conv2d`?") != std::string::npos);
  Result far = dlspec("ops transformer_block");
  CHECK(far.rc == 2);
  CHECK(far.out.find("the nearest are `") != std::string::npos);
  CHECK(dlspec("ops --markdown").out.rfind("# Op reference", 0) == 0);
}

TEST_CASE("dlspec check: an unknown op close to nothing lists the nearest names", "[cli]") {
  Result r = dlspec("check tests/specs/names/unknown_op_nothing_close.dls");
  CHECK(r.rc == 1);
  CHECK(r.out.find("error[E0102]: unknown layer `capsule_routing`") != std::string::npos);
  CHECK(r.out.find("= help: nothing is close; the nearest are `") != std::string::npos);
  CHECK(r.out.find("`dlspec ops` lists every op with its arguments") != std::string::npos);
}

TEST_CASE("dlspec summary: columns as wide as their widest cell, nested block paths included", "[cli]") {
  Result r = dlspec("summary specs/vgg.dls");
  REQUIRE(r.rc == 0);
  // Every layer row puts its op at the column of the header's `op`.
  size_t header = r.out.find("  layer ");
  REQUIRE(header != std::string::npos);
  size_t lineStart = r.out.rfind('\n', header) + 1;
  size_t opCol = r.out.find(" op ", header) + 1 - lineStart;
  size_t rows = 0;
  for (const char* layer : {"vgg_stage_1/conv_bn_relu_1/batch_norm_1", "vgg_stage_3/maxpool_3", "dense_1"}) {
    size_t at = r.out.find(std::string("  ") + layer + " ");
    REQUIRE(at != std::string::npos);
    size_t start = r.out.rfind('\n', at) + 1;
    std::string line = r.out.substr(start, r.out.find('\n', at) - start);
    INFO(line);
    CHECK(line.size() > opCol);
    CHECK(line[opCol - 1] == ' ');
    CHECK(line[opCol] != ' ');
    ++rows;
  }
  CHECK(rows == 3);
}
