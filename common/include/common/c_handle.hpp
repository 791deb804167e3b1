#pragma once
// RAII ownership for handles of C libraries (libgit2, SQLite, OpenSSL, ...).
//
//   using GitRepository = std::unique_ptr<git_repository, common::CDeleter<git_repository_free>>;
//
// Wrap the raw pointer right after the call that produced it, then check it.
#include <memory>

namespace common {

template <auto Free>
struct CDeleter {
  template <class T>
  void operator()(T* p) const noexcept {
    if (p) Free(p);
  }
};

template <class T, auto Free>
using CHandle = std::unique_ptr<T, CDeleter<Free>>;

}  // namespace common
