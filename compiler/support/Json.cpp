#include "support/Json.h"

#include <nlohmann/json.hpp>

namespace dls {

void jsonString(std::string& out, std::string_view s) {
  // Invalid UTF-8 becomes U+FFFD, so that the output is always valid JSON.
  out += nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace dls
