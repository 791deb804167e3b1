#pragma once
// Per-server cgroups (v2) for limits.memory and limits.cpu.
//
// Servers must outlive the hub, so their cgroups cannot live inside the hub's
// own (a service manager stopping the hub would take them along): they live
// under "<cgroup2 mount>/coursehub/<server>", which needs write access to the
// root of the cgroup2 hierarchy (root, or a container whose cgroup namespace
// root is delegated) and the memory (and cpu) controllers available there.
// When that is not so, detection says why and the spawner falls back to
// rlimits.  Functions are thread-safe; they touch the filesystem.
#include <cstdint>
#include <optional>
#include <string>

namespace hub::spawner {

struct CgroupSupport {
  bool usable = false;
  bool memory = false;  // memory.max can be set
  bool cpu = false;     // cpu.max can be set
  std::string base;     // the directory server cgroups go under
  std::string reason;   // why not usable, or what was found
};

// The mount point of the cgroup2 hierarchy in /proc/self/mountinfo text.
std::optional<std::string> cgroup2_mount_point(const std::string& mountinfo);

// Looks for a usable cgroup2 hierarchy and prepares `configured` (a directory
// to use as the base, when non-empty) or <mount>/coursehub.  Never throws.
CgroupSupport detect_cgroup_support(const std::string& configured);

// Creates base/leaf with the limits written; returns its path.  Throws
// std::runtime_error with the file that could not be written.
std::string create_server_cgroup(const CgroupSupport& support, const std::string& leaf,
                                 std::optional<std::int64_t> memory_bytes, std::optional<double> cpus);

// Kills every process in the cgroup (cgroup.kill, else SIGKILL to each listed pid).
void kill_cgroup(const std::string& path);

// Removes the (empty) cgroup; false while processes remain.
bool remove_cgroup(const std::string& path);

// The memory.max line for `bytes` and the cpu.max line for `cpus` (period 100 ms).
std::string memory_max_value(std::int64_t bytes);
std::string cpu_max_value(double cpus);

}  // namespace hub::spawner
