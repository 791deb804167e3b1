#include "spawner/cgroup.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
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
  constexpr long kPeriod = 100000;
  long quota = std::lround(cpus * kPeriod);
  if (quota < 1000) quota = 1000;  // the kernel's minimum is 1 ms
  return std::to_string(quota) + " " + std::to_string(kPeriod);
}

CgroupSupport detect_cgroup_support(const std::string& configured) {
  CgroupSupport s;
  auto mount = cgroup2_mount_point(read_file("/proc/self/mountinfo"));
  if (!mount) {
    s.reason = "no cgroup v2 hierarchy is mounted";
    return s;
  }
  std::string root = *mount;
  std::string base = configured.empty() ? root + "/coursehub" : configured;
  std::string parent = base.substr(0, base.rfind('/'));
  auto available = words(read_file(parent + "/cgroup.controllers"));
  if (!available.count("memory")) {
    s.reason = "the cgroup v2 hierarchy at " + root + " offers no memory controller"
               " (controllers: " + (available.empty() ? std::string("none") : [&] {
                 std::string l;
                 for (const auto& c : available) l += (l.empty() ? "" : " ") + c;
                 return l;
               }()) + "; on a hybrid system the memory controller belongs to cgroup v1)";
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
  s.memory = true;
  s.cpu = available.count("cpu") > 0;
  s.base = base;
  s.reason = "cgroup v2 at " + root;
  return s;
}

std::string create_server_cgroup(const CgroupSupport& support, const std::string& leaf,
                                 std::optional<std::int64_t> memory_bytes, std::optional<double> cpus) {
  std::string path = support.base + "/" + leaf;
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST)
    throw std::runtime_error("cannot create cgroup " + path + ": " + std::strerror(errno));
  auto set = [&](const std::string& file, const std::string& value) {
    if (int err = write_file(path + "/" + file, value))
      throw std::runtime_error("cannot write " + value + " to " + path + "/" + file + ": " + std::strerror(err));
  };
  set("memory.max", memory_bytes && support.memory ? memory_max_value(*memory_bytes) : "max");
  if (support.cpu) set("cpu.max", cpus ? cpu_max_value(*cpus) : "max 100000");
  return path;
}

void kill_cgroup(const std::string& path) {
  if (path.empty()) return;
  if (write_file(path + "/cgroup.kill", "1") == 0) return;
  std::istringstream in(read_file(path + "/cgroup.procs"));
  for (long pid; in >> pid;) ::kill(static_cast<pid_t>(pid), SIGKILL);
}

bool remove_cgroup(const std::string& path) {
  if (path.empty()) return true;
  return ::rmdir(path.c_str()) == 0 || errno == ENOENT;
}

}  // namespace hub::spawner
