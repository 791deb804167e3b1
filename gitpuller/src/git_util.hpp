#pragma once
// Private: owned libgit2 handles and the mapping of libgit2 failures to
// SyncError.
#include <git2.h>

#include <string>
#include <string_view>
#include <vector>

#include "common/c_handle.hpp"
#include "gitpuller/error.hpp"

namespace gitpuller::detail {

using GitRepository = common::CHandle<git_repository, git_repository_free>;
using GitRemote = common::CHandle<git_remote, git_remote_free>;
using GitCommit = common::CHandle<git_commit, git_commit_free>;
using GitTree = common::CHandle<git_tree, git_tree_free>;
using GitIndex = common::CHandle<git_index, git_index_free>;
using GitReference = common::CHandle<git_reference, git_reference_free>;
using GitObject = common::CHandle<git_object, git_object_free>;
using GitOdb = common::CHandle<git_odb, git_odb_free>;
using GitDiff = common::CHandle<git_diff, git_diff_free>;
using GitStatusList = common::CHandle<git_status_list, git_status_list_free>;
using GitSignature = common::CHandle<git_signature, git_signature_free>;
using GitConfig = common::CHandle<git_config, git_config_free>;
using GitBlob = common::CHandle<git_blob, git_blob_free>;
using GitRevwalk = common::CHandle<git_revwalk, git_revwalk_free>;
using GitRefIterator = common::CHandle<git_reference_iterator, git_reference_iterator_free>;
using GitIndexConflictIterator = common::CHandle<git_index_conflict_iterator, git_index_conflict_iterator_free>;

// A git_buf that disposes itself.
struct GitBuf {
  git_buf buf = GIT_BUF_INIT;
  GitBuf() = default;
  GitBuf(const GitBuf&) = delete;
  GitBuf& operator=(const GitBuf&) = delete;
  ~GitBuf() { git_buf_dispose(&buf); }
  std::string str() const { return buf.ptr ? std::string(buf.ptr, buf.size) : std::string(); }
};

struct MergeFileResult {
  git_merge_file_result result{};
  MergeFileResult() = default;
  MergeFileResult(const MergeFileResult&) = delete;
  MergeFileResult& operator=(const MergeFileResult&) = delete;
  ~MergeFileResult() { git_merge_file_result_free(&result); }
};

// libgit2's last error message on this thread (copied right away), scrubbed
// of `secrets` and of any "user:password@" in URLs.
std::string last_git_error(const std::vector<std::string>& secrets = {});

// Throws SyncError(code, "<what>: <libgit2 message>") when rc < 0.
void check(int rc, ErrorCode code, std::string_view what);

std::string oid_hex(const git_oid& oid);
git_oid oid_from_hex(const std::string& hex);

// The commit `hex` names, or throws SyncError(code).
GitCommit lookup_commit(git_repository* repo, const git_oid& oid, ErrorCode code);

// The fixed identity of commits the engine makes.
GitSignature engine_signature();

// The process's umask, read without changing it (umask(2) would race with
// other threads).
unsigned process_umask();

}  // namespace gitpuller::detail
