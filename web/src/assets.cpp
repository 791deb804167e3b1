#include "web/assets.hpp"

namespace web {
namespace generated {
extern const Asset kAssets[];
extern const std::size_t kAssetCount;
}  // namespace generated

const Asset* find_asset(std::string_view path) {
  for (const auto& a : all_assets())
    if (a.path == path) return &a;
  return nullptr;
}

std::span<const Asset> all_assets() { return {generated::kAssets, generated::kAssetCount}; }

}  // namespace web
