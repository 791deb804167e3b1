#include "spawner/cgroup.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

namespace hub::spawner {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return {};
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Writes with one write(2), as cgroupfs expects; returns errno or 0.
int write_file(const std::string& path, const std::string& value) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  ssize_t n = ::write(fd, value.data(), value.size());
  int err = n < 0 ? errno : 0;
  ::close(fd);
  return err;
}

std::set<std::string> words(const std::string& s) {
  std::istringstream in(s);
  std::set<std::string> out;
  for (std::string w; in >> w;) out.insert(w);
  return out;
}

std::set<std::string> comma_list(const std::string& s) {
  std::set<std::string> out;
  std::istringstream in(s);
  for (std::string w; std::getline(in, w, ',');) out.insert(w);
  return out;
}

long cpu_quota_us(double cpus, long period) {
  long quota = std::lround(cpus * period);
  return quota < 1000 ? 1000 : quota;  // the kernel's minimum is 1 ms
}

constexpr long kCpuPeriod = 100000;

CgroupSupport detect_v2(const std::string& root, const std::string& configured) {
  CgroupSupport s;
  std::string base = configured.empty() ? root + "/coursehub" : configured;
  std::string parent = base.substr(0, base.rfind('/'));
  auto available = words(read_file(parent + "/cgroup.controllers"));
  if (!available.count("memory")) {
    s.reason = "the cgroup v2 hierarchy at " + root + " offers no memory controller"
               " (controllers: " + (available.empty() ? std::string("none") : [&] {
                 std::string l;
                 for (const auto& c : available) l += (l.empty() ? "" : " ") + c;
                 return l;
               }()) + ")";
    return s;
  }
  if (::access((parent + "/cgroup.subtree_control").c_str(), W_OK) != 0) {
    s.reason = parent + " is not writable by the hub (cgroup v2 needs root or a delegated hierarchy)";
    return s;
  }
  std::string wanted = "+memory";
  if (available.count("cpu")) wanted += " +cpu";
  auto enabled = words(read_file(parent + "/cgroup.subtree_control"));
  if (!enabled.count("memory") || (available.count("cpu") && !enabled.count("cpu"))) {
    if (int err = write_file(parent + "/cgroup.subtree_control", wanted)) {
      s.reason = "cannot enable controllers in " + parent + "/cgroup.subtree_control: " + std::strerror(err);
      return s;
    }
  }
  if (::mkdir(base.c_str(), 0755) != 0 && errno != EEXIST) {
    s.reason = "cannot create " + base + ": " + std::strerror(errno);
    return s;
  }
  auto base_enabled = words(read_file(base + "/cgroup.subtree_control"));
  if (!base_enabled.count("memory") || (available.count("cpu") && !base_enabled.count("cpu"))) {
    if (int err = write_file(base + "/cgroup.subtree_control", wanted)) {
      s.reason = "cannot enable controllers in " + base + "/cgroup.subtree_control: " + std::strerror(err);
      return s;
    }
  }
  s.usable = true;
  s.version = 2;
  s.memory = true;
  s.cpu = available.count("cpu") > 0;
  s.base = base;
  s.reason = "cgroup v2 at " + root;
  return s;
}

// "<mount><own path>/coursehub", made when missing; "" with `error` set when
// it cannot be made or its `control` file is not writable.
std::string prepare_v1_base(const std::string& mount, const std::string& rel, const std::string& control,
                            std::string* error) {
  std::string base = mount + rel;
  std::error_code ec;
  std::filesystem::create_directories(base, ec);
  if (ec) {
    *error = "cannot create " + base + ": " + ec.message();
    return {};
  }
  if (::access((base + "/" + control).c_str(), W_OK) != 0) {
    *error = base + "/" + control + " is not writable by the hub";
    return {};
  }
  return base;
}

CgroupSupport detect_v1(const std::string& mountinfo, const std::string& proc_cgroup, const std::string& configured) {
  CgroupSupport s;
  auto memory_mount = cgroup1_mount_point(mountinfo, "memory");
  if (!memory_mount) {
    s.reason = "no cgroup v1 memory hierarchy is mounted";
    return s;
  }
  // The path below each mount: the configured one, else the hub's own cgroup + /coursehub.
  auto rel_for = [&](const std::string& controller) {
    std::string own = cgroup1_own_path(proc_cgroup, controller).value_or("/");
    return (own == "/" ? std::string() : own) + "/coursehub";
  };
  std::string memory_rel;
  if (configured.empty()) {
    memory_rel = rel_for("memory");
  } else if (configured.rfind(*memory_mount + "/", 0) == 0) {
    memory_rel = configured.substr(memory_mount->size());
  } else {
    s.reason = configured + " is not in the cgroup v1 memory hierarchy at " + *memory_mount;
    return s;
  }
  std::string error;
  s.base = prepare_v1_base(*memory_mount, memory_rel, "memory.limit_in_bytes", &error);
  if (s.base.empty()) {
    s.reason = "cgroup v1: " + error;
    return s;
  }
  s.usable = true;
  s.version = 1;
  s.memory = true;
  s.reason = "cgroup v1: memory at " + *memory_mount;
  if (auto cpu_mount = cgroup1_mount_point(mountinfo, "cpu")) {
    std::string cpu_error;
    s.cpu_base = prepare_v1_base(*cpu_mount, configured.empty() ? rel_for("cpu") : memory_rel, "cpu.cfs_quota_us",
                                 &cpu_error);
    s.cpu = !s.cpu_base.empty();
    s.reason += s.cpu ? ", cpu at " + *cpu_mount : "; cpu: " + cpu_error;
  } else {
    s.reason += "; no cgroup v1 cpu hierarchy is mounted";
  }
  return s;
}

}  // namespace

std::optional<std::string> cgroup2_mount_point(const std::string& mountinfo) {
  std::istringstream in(mountinfo);
  for (std::string line; std::getline(in, line);) {
    // "... mount-point options - fstype source super-options"
    auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream tail(line.substr(dash + 3));
    std::string fstype;
    tail >> fstype;
    if (fstype != "cgroup2") continue;
    std::istringstream head(line.substr(0, dash));
    std::string id, parent, devno, root, mount_point;
    head >> id >> parent >> devno >> root >> mount_point;
    if (!mount_point.empty()) return mount_point;
  }
  return std::nullopt;
}

std::string memory_max_value(std::int64_t bytes) { return std::to_string(bytes); }

std::string cpu_max_value(double cpus) {
  return std::to_string(cpu_quota_us(cpus, kCpuPeriod)) + " " + std::to_string(kCpuPeriod);
}

std::optional<std::string> cgroup1_mount_point(const std::string& mountinfo, const std::string& controller) {
  std::istringstream in(mountinfo);
  for (std::string line; std::getline(in, line);) {
    auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream tail(line.substr(dash + 3));
    std::string fstype, source, options;
    tail >> fstype >> source >> options;
    if (fstype != "cgroup" || !comma_list(options).count(controller)) continue;
    std::istringstream head(line.substr(0, dash));
    std::string id, parent, devno, root, mount_point;
    head >> id >> parent >> devno >> root >> mount_point;
    if (!mount_point.empty()) return mount_point;
  }
  return std::nullopt;
}

std::optional<std::string> cgroup1_own_path(const std::string& proc_cgroup, const std::string& controller) {
  std::istringstream in(proc_cgroup);
  for (std::string line; std::getline(in, line);) {
    auto first = line.find(':');
    auto second = first == std::string::npos ? first : line.find(':', first + 1);
    if (second == std::string::npos) continue;
    if (comma_list(line.substr(first + 1, second - first - 1)).count(controller)) return line.substr(second + 1);
  }
  return std::nullopt;
}

CgroupSupport detect_cgroup_support(const std::string& configured) {
  const std::string mountinfo = read_file("/proc/self/mountinfo");
  std::string v2_reason = "no cgroup v2 hierarchy is mounted";
  if (auto mount = cgroup2_mount_point(mountinfo)) {
    CgroupSupport v2 = detect_v2(*mount, configured);
    if (v2.usable) return v2;
    v2_reason = v2.reason;
  }
  CgroupSupport v1 = detect_v1(mountinfo, read_file("/proc/self/cgroup"), configured);
  if (v1.usable) {
    v1.reason += " (" + v2_reason + ")";
    return v1;
  }
  CgroupSupport none;
  none.reason = v2_reason + "; " + v1.reason;
  return none;
}

std::vector<std::string> cgroup_dirs(const std::string& cgroup) {
  std::vector<std::string> out;
  std::istringstream in(cgroup);
  for (std::string dir; std::getline(in, dir);)
    if (!dir.empty()) out.push_back(dir);
  return out;
}

std::string create_server_cgroup(const CgroupSupport& support, const std::string& leaf,
                                 std::optional<std::int64_t> memory_bytes, std::optional<double> cpus) {
  auto make = [](const std::string& path) {
    if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST)
      throw std::runtime_error("cannot create cgroup " + path + ": " + std::strerror(errno));
  };
  auto set = [](const std::string& path, const std::string& file, const std::string& value) {
    if (int err = write_file(path + "/" + file, value))
      throw std::runtime_error("cannot write " + value + " to " + path + "/" + file + ": " + std::strerror(err));
  };
  const bool limit_memory = memory_bytes && support.memory;
  std::string path = support.base + "/" + leaf;
  make(path);
  if (support.version == 1) {
    set(path, "memory.limit_in_bytes", limit_memory ? std::to_string(*memory_bytes) : "-1");
    if (!support.cpu) return path;
    std::string cpu_path = support.cpu_base + "/" + leaf;
    make(cpu_path);
    set(cpu_path, "cpu.cfs_period_us", std::to_string(kCpuPeriod));
    set(cpu_path, "cpu.cfs_quota_us", cpus ? std::to_string(cpu_quota_us(*cpus, kCpuPeriod)) : "-1");
    return path + "\n" + cpu_path;
  }
  set(path, "memory.max", limit_memory ? memory_max_value(*memory_bytes) : "max");
  if (support.cpu) set(path, "cpu.max", cpus ? cpu_max_value(*cpus) : "max 100000");
  return path;
}

void kill_cgroup(const std::string& cgroup) {
  for (const auto& dir : cgroup_dirs(cgroup)) {
    if (write_file(dir + "/cgroup.kill", "1") == 0) continue;
    // No cgroup.kill (v1, or v2 before Linux 5.14): each listed process; a
    // few rounds for children forked meanwhile.
    for (int round = 0; round < 3; ++round) {
      std::istringstream in(read_file(dir + "/cgroup.procs"));
      bool any = false;
      for (long pid; in >> pid; any = true) ::kill(static_cast<pid_t>(pid), SIGKILL);
      if (!any) break;
    }
  }
}

bool remove_cgroup(const std::string& cgroup) {
  bool all = true;
  for (const auto& dir : cgroup_dirs(cgroup))
    if (::rmdir(dir.c_str()) != 0 && errno != ENOENT) all = false;
  return all;
}

}  // namespace hub::spawner
