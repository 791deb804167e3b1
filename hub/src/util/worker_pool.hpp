#pragma once
// A fixed set of threads for blocking work (SQLite, password hashing, file
// I/O, waitpid) that must never run on the HTTP server's I/O threads.
//
//   pool.post([=] { auto rows = query(db); net::post(strand, [=] { reply(rows); }); });
//
// Thread-safe: post() may be called from any thread.  Tasks run in FIFO
// order on whichever worker is free.  An exception escaping a task is logged
// and swallowed (it must not kill the worker).  The destructor (or stop())
// runs the tasks already queued, then joins the workers.
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace hub {

class WorkerPool {
 public:
  // `name` appears in log lines about failed tasks.
  WorkerPool(std::string name, std::size_t threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void post(std::function<void()> task);
  // Finishes the queued tasks and joins the workers; later posts are dropped.
  void stop();

  // True on a thread owned by any WorkerPool.
  static bool on_worker_thread();

  std::size_t size() const { return threads_.size(); }
  // Tasks waiting (not counting running ones); for diagnostics.
  std::size_t backlog() const;

 private:
  void run();

  std::string name_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace hub
