#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "hub/config.hpp"
#include "hub/config_schema.hpp"

namespace {
const std::string kExample = std::string(COURSEHUB_SOURCE_DIR) + "/examples/config.yaml";
}

TEST_CASE("examples/config.yaml loads and sets every key to its default") {
  CHECK(hub::load_config(kExample) == hub::HubConfig{});
}

TEST_CASE("examples/config.yaml is what the schema table renders (regenerate it when the table changes)") {
  std::ifstream in(kExample);
  REQUIRE(in);
  std::stringstream text;
  text << in.rdbuf();
  std::string rendered = hub::render_config_yaml(hub::effective_config(hub::ConfigValue::empty_map()));
  INFO("regenerate with: build/coursehub config show --defaults --prefix /nonexistent > examples/config.yaml");
  CHECK(text.str().ends_with("\n\n" + rendered));
  // Every key of the table that is neither an alias nor ignored is in it.
  for (const auto& key : hub::config_schema()) {
    if (!key.alias_of.empty() || key.ignored) continue;
    std::string last = key.path.substr(key.path.find_last_of('.') + 1);
    if (last == "*") last = "extra_user_groups";
    CAPTURE(key.path);
    CHECK(rendered.find(last + ":") != std::string::npos);
  }
}
