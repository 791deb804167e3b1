#pragma once
// The one exception type of envmgr.  Its code is what the user sees (CLI
// prefix "error: <code>:", API field "code"); the message says what to do.
#include <stdexcept>
#include <string>

namespace envmgr {

enum class ErrorCode {
  not_an_env,        // the folder is not a Python environment (or is not empty, for init)
  bad_spec,          // a requirement that is not PEP 508, or smuggles pip options, URLs, paths
  bad_requirements,  // a requirements file with options, includes or invalid lines
  not_installed,     // remove/show of a package that is not in the environment
  not_found,         // a transaction id that does not exist
  missing_wheel,     // a rollback/import needs a wheel the wheelhouse does not have
  bad_bundle,        // corrupted archive, traversal, bomb, hash mismatch
  installer,         // the installer (pip/python) could not be run at all
  busy,              // the environment lock could not be taken in time
  io,                // a file-system operation failed
};

const char* to_string(ErrorCode code);

class EnvError : public std::runtime_error {
 public:
  EnvError(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace envmgr
