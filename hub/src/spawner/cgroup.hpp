#pragma once
// Per-server cgroups for limits.memory and limits.cpu: cgroup v2 where the
// machine has it with a memory controller, else cgroup v1 (hybrid systems,
// e.g. Ubuntu 20.04, keep the memory and cpu controllers in v1 hierarchies).
//
// v2: servers must outlive the hub, so their cgroups cannot live inside the
// hub's own (a service manager stopping the hub would take them along): they
// live under "<cgroup2 mount>/coursehub/<server>", which needs write access
// to the root of the cgroup2 hierarchy (root, or a container whose cgroup
// namespace root is delegated) and the memory (and cpu) controllers there.
// v1: one directory per server in the memory hierarchy (memory.limit_in_bytes)
// and, when writable, one in the cpu hierarchy (cpu.cfs_quota_us), under
// "<mount><the hub's own cgroup there>/coursehub"; v1 allows processes next
// to child cgroups, and systemd on v1 tracks units in its own hierarchy, so
// the servers still outlive the hub (KillMode=process), and a hub inside a
// container or a limited slice keeps its servers inside that limit.
// A server's cgroup is then the two directories joined by '\n' (see
// cgroup_dirs).  When neither works, detection says why and the spawner falls
// back to rlimits.  Functions are thread-safe; they touch the filesystem.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace hub::spawner {

struct CgroupSupport {
  bool usable = false;
  int version = 0;       // 2 or 1 when usable
  bool memory = false;   // a memory limit can be set
  bool cpu = false;      // a cpu limit can be set
  std::string base;      // the directory server cgroups go under (v1: in the memory hierarchy)
  std::string cpu_base;  // v1 only: the same in the cpu hierarchy, "" when not usable
  std::string reason;    // why not usable, or what was found
};

// The mount point of the cgroup2 hierarchy in /proc/self/mountinfo text.
std::optional<std::string> cgroup2_mount_point(const std::string& mountinfo);

// The mount point of the cgroup v1 hierarchy holding `controller` ("memory",
// "cpu") in /proc/self/mountinfo text.
std::optional<std::string> cgroup1_mount_point(const std::string& mountinfo, const std::string& controller);

// The process's cgroup path in the v1 hierarchy of `controller`, from
// /proc/self/cgroup text ("4:memory:/a/b" -> "/a/b"; "2:cpu,cpuacct:/" -> "/").
std::optional<std::string> cgroup1_own_path(const std::string& proc_cgroup, const std::string& controller);

// Looks for a usable cgroup2 hierarchy with a memory controller, else for
// cgroup v1 memory (and cpu) hierarchies, and prepares `configured` (a
// directory to use as the base, when non-empty; with v1 it must lie in the
// memory hierarchy, and the cpu base is the same path in the cpu one) or the
// default base described above.  Never throws.
CgroupSupport detect_cgroup_support(const std::string& configured);

// The directories a server's cgroup string names (one for v2, one or two
// for v1).
std::vector<std::string> cgroup_dirs(const std::string& cgroup);

// Creates base/leaf (and, v1, cpu_base/leaf) with the limits written; returns
// the server's cgroup string.  Throws std::runtime_error with the file that
// could not be written.
std::string create_server_cgroup(const CgroupSupport& support, const std::string& leaf,
                                 std::optional<std::int64_t> memory_bytes, std::optional<double> cpus);

// Kills every process in the cgroup (cgroup.kill, else SIGKILL to each listed pid).
void kill_cgroup(const std::string& cgroup);

// Removes the (empty) cgroup's directories; false while processes remain.
bool remove_cgroup(const std::string& cgroup);

// The memory.max line for `bytes` and the cpu.max line for `cpus` (period 100 ms).
std::string memory_max_value(std::int64_t bytes);
std::string cpu_max_value(double cpus);

}  // namespace hub::spawner
