#include "gitpuller/error.hpp"

#include <array>
#include <utility>

namespace gitpuller {
namespace {

constexpr std::array<std::pair<ErrorCode, std::string_view>, 11> kNames = {{
    {ErrorCode::clone, "clone"},
    {ErrorCode::fetch, "fetch"},
    {ErrorCode::merge, "merge"},
    {ErrorCode::branch_exist, "branch_exist"},
    {ErrorCode::branch_resolve, "branch_resolve"},
    {ErrorCode::remote_mismatch, "remote_mismatch"},
    {ErrorCode::not_a_repo, "not_a_repo"},
    {ErrorCode::target_invalid, "target_invalid"},
    {ErrorCode::auth, "auth"},
    {ErrorCode::lock, "lock"},
    {ErrorCode::unknown, "unknown"},
}};

}  // namespace

std::string_view to_string(ErrorCode code) {
  for (const auto& [c, name] : kNames)
    if (c == code) return name;
  return "unknown";
}

std::optional<ErrorCode> error_code_from_string(std::string_view text) {
  for (const auto& [c, name] : kNames)
    if (name == text) return c;
  return std::nullopt;
}

}  // namespace gitpuller
