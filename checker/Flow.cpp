#include "checker/Flow.h"

#include <filesystem>
#include <fmt/format.h>

namespace dls::checker {

std::vector<std::vector<int>> consumers(const sema::Network& net) {
  std::vector<std::vector<int>> users(net.values.size());
  for (const sema::Node& n : net.nodes)
    for (int v : n.inputs)
      if (v >= 0 && static_cast<size_t>(v) < users.size()) users[static_cast<size_t>(v)].push_back(n.id);
  return users;
}

const sema::Node* producerOf(const sema::Network& net, int valueId) {
  if (valueId < 0 || static_cast<size_t>(valueId) >= net.values.size()) return nullptr;
  int p = net.values[static_cast<size_t>(valueId)].producer;
  return p < 0 || static_cast<size_t>(p) >= net.nodes.size() ? nullptr : &net.nodes[static_cast<size_t>(p)];
}

std::vector<int> descendants(const sema::Network& net, const std::vector<std::vector<int>>& users, int valueId) {
  std::vector<bool> seen(net.nodes.size(), false);
  std::vector<int> stack = {valueId}, out;
  while (!stack.empty()) {
    int v = stack.back();
    stack.pop_back();
    if (v < 0 || static_cast<size_t>(v) >= users.size()) continue;
    for (int n : users[static_cast<size_t>(v)]) {
      if (seen[static_cast<size_t>(n)]) continue;
      seen[static_cast<size_t>(n)] = true;
      stack.push_back(net.nodes[static_cast<size_t>(n)].output);
    }
  }
  for (size_t i = 0; i < seen.size(); ++i)
    if (seen[i]) out.push_back(static_cast<int>(i));
  return out;
}

std::optional<int64_t> trainableParams(const sema::Network& net) {
  int64_t total = 0;
  for (const sema::Param& p : net.params) {
    if (!p.trainable) continue;
    auto n = p.shape.elements();
    if (!n || !sema::addChecked(total, *n, total)) return std::nullopt;
  }
  return total;
}

std::optional<int64_t> sampleElements(const sema::Value& v) {
  if (v.type.poisoned || v.type.shape.unknownRank || v.type.shape.rank() < 1) return std::nullopt;
  return v.type.shape.elements(1);
}

const sema::Attr* givenAttr(const std::map<std::string, sema::Attr>& attrs, const std::string& name) {
  auto it = attrs.find(name);
  return it == attrs.end() || it->second.isDefault ? nullptr : &it->second;
}

std::string argValueText(const RuleContext& c, const sema::Attr& a, std::string_view name) {
  std::string text(c.sources.text(a.span));
  if (text.rfind(name, 0) == 0) {
    size_t colon = text.find(':', name.size());
    if (colon != std::string::npos) {
      text = text.substr(colon + 1);
      text.erase(0, text.find_first_not_of(" \t"));
    }
  }
  return text;
}

std::string humanBytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int i = 0;
  while (b >= 1024 && i < 6) {
    b /= 1024;
    ++i;
  }
  return fmt::format("{:.1f} {}", b, units[i]);
}

std::string numberText(double v) {
  std::string s = fmt::format("{}", v);
  for (const char* from : {"e-0", "e+0"})
    if (auto at = s.find(from); at != std::string::npos) s.erase(at + 2, 1);
  return s;
}

std::string resolvePath(const RuleContext& c, const std::string& p) {
  std::filesystem::path path(p);
  if (path.is_relative() && !c.program.specDir.empty()) path = std::filesystem::path(c.program.specDir) / path;
  return path.string();
}

}  // namespace dls::checker
