#pragma once
// One entry point per subcommand of `coursehub`.  Each takes the arguments
// after the subcommand's name and returns the process exit status.  They
// print their own errors; main() only catches what escapes.
#include <string>
#include <vector>

namespace hub::cli {

using Argv = std::vector<std::string>;

int cmd_version(const Argv& args);
int cmd_env(const Argv& args);
int cmd_config(const Argv& args);
int cmd_serve(const Argv& args);
int cmd_user(const Argv& args);
int cmd_token(const Argv& args);
int cmd_pull(const Argv& args);
int cmd_cred(const Argv& args);
int cmd_link(const Argv& args);
int cmd_course(const Argv& args);

}  // namespace hub::cli
