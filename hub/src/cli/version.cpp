#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "hub/version.hpp"

#include <iostream>

namespace hub::cli {

int cmd_version(const Argv& args) {
  Args parsed(args, {}, {});
  std::cout << "coursehub " << hub::kVersion << "\n";
  return 0;
}

}  // namespace hub::cli
