// RuleSupport: small look-ups shared by the rules (what a train block refers to, numbers, devices).
#pragma once
#include <optional>
#include <string>

#include "checker/Rule.h"

namespace dls::checker {

// The network named by `model = Net on …`.
const NetView* modelOf(const RuleContext& c, const TrainView& t);
// The pipeline named by `data = …` / `validate = …` (a pipeline name), or nullptr.
const PipeView* pipelineOf(const RuleContext& c, const TrainView& t, const std::string& key);
// The data set a pipeline reads.
const DataView* datasetOf(const RuleContext& c, const PipeView& p);
// The `on` clause of an item, if any.
const ast::Clause* onClause(const ast::Item* it);
// The batch size of a pipeline: batch(64).
std::optional<int64_t> batchOf(const PipeView& p, Span* where = nullptr);
// `memory = 16 * GiB` / `memory = 17179869184`: bytes.
std::optional<int64_t> bytesOf(const ast::Expr* e);
std::string humanBytes(double b);
// Value of a named argument as a number.
std::optional<double> numArg(const OpUse& u, const std::string& name);
// Name value of an argument (`init: zeros` → "zeros", `init: constant(0.1)` → "constant").
std::string nameArg(const OpUse& u, const std::string& name);
// Does a path exist, relative to the spec's directory when relative?
bool pathExists(const RuleContext& c, const std::string& p);
std::string resolvePath(const RuleContext& c, const std::string& p);

}  // namespace dls::checker
