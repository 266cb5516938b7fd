// Flow: the queries the rules share over the typed program (sema/Program.h): who consumes a value, what
// a network's parameters and activations add up to, and a few formatting and path helpers.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "checker/Rule.h"
#include "sema/Program.h"

namespace dls::checker {

// For each value id of a network, the ids of the nodes that read it, in node order.
std::vector<std::vector<int>> consumers(const sema::Network& net);
// The node that produced a value, or nullptr (a network input, or a value poisoned before any node).
const sema::Node* producerOf(const sema::Network& net, int valueId);
// Every node reachable from a value along the data flow (each once), in node order.
std::vector<int> descendants(const sema::Network& net, const std::vector<std::vector<int>>& users, int valueId);
// The trainable parameters of a network, when every parameter's shape is known.
std::optional<int64_t> trainableParams(const sema::Network& net);
// The per-sample elements of a value (its shape after the batch dim), when known.
std::optional<int64_t> sampleElements(const sema::Value& v);
// The attribute, if the spec gave it (a default is not "given").
const sema::Attr* givenAttr(const std::map<std::string, sema::Attr>& attrs, const std::string& name);
// The text of an argument's value as written: `lr: 0.5` → "0.5".
std::string argValueText(const RuleContext& c, const sema::Attr& a, std::string_view name);
std::string humanBytes(double b);
// A number as written in diagnostics: 1e-8, 0.001.
std::string numberText(double v);
// A path of the spec, relative to the spec's directory when relative.
std::string resolvePath(const RuleContext& c, const std::string& p);

}  // namespace dls::checker
