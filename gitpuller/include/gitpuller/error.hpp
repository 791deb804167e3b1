#pragma once
// The one exception type of the sync engine.
//
// Every failure the engine reports carries a code from a fixed list (the same
// codes `coursehub pull` prints and the hub streams) and a message written
// for a student or a teacher, not for a git expert.  Messages never contain a
// secret: libgit2 texts are scrubbed before they are copied into one.
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace gitpuller {

enum class ErrorCode {
  clone,            // the first copy could not be made
  fetch,            // upstream could not be reached or read during an update
  merge,            // the student's changes and upstream's could not be combined
  branch_exist,     // the requested branch or tag does not exist upstream
  branch_resolve,   // no branch given and upstream has no default branch
  remote_mismatch,  // the folder is a clone of another repository
  not_a_repo,       // the folder exists, is not empty and is not a git clone
  target_invalid,   // the folder path is not acceptable (outside home, a file, ...)
  auth,             // upstream wants credentials that are missing or rejected
  lock,             // another git process keeps the folder locked
  unknown,
};

// "clone", "fetch", ... as printed in `error: CODE: message`.
std::string_view to_string(ErrorCode code);
std::optional<ErrorCode> error_code_from_string(std::string_view text);

class SyncError : public std::runtime_error {
 public:
  SyncError(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace gitpuller
