#include "envmgr/installer.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using Argv = std::vector<std::string>;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/envmgr-installer-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
};

void touch_executable(const fs::path& p) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << "#!/bin/sh\nexit 0\n";
  ::chmod(p.c_str(), 0755);
}

// A conda environment on disk: conda-meta/, bin/python, a site-packages.
fs::path make_conda_env(const fs::path& root) {
  fs::create_directories(root / "conda-meta");
  fs::create_directories(root / "lib" / "python3.11" / "site-packages");
  fs::create_directories(root / "bin");
  fs::create_symlink("/usr/bin/python3", root / "bin" / "python");
  return root;
}

std::vector<envmgr::Requirement> reqs(std::initializer_list<const char*> specs) {
  std::vector<envmgr::Requirement> out;
  for (const char* s : specs) out.push_back(envmgr::parse_requirement(s));
  return out;
}

}  // namespace

TEST_CASE("a conda environment is changed with its own mamba, else its conda, else pip") {
  TempDir t;
  auto root = make_conda_env(t.path / "user");
  auto layout = envmgr::detect_layout(root.string());
  REQUIRE(layout);
  REQUIRE(layout->kind == envmgr::EnvKind::conda);
  CHECK(envmgr::choose_installer(*layout).kind == envmgr::InstallerKind::pip);

  touch_executable(root / "condabin" / "conda");
  auto c = envmgr::choose_installer(*layout);
  CHECK(c.kind == envmgr::InstallerKind::conda);
  CHECK(c.program == (root / "condabin" / "conda").string());

  touch_executable(root / "bin" / "conda");
  CHECK(envmgr::choose_installer(*layout).program == (root / "bin" / "conda").string());

  touch_executable(root / "bin" / "mamba");
  auto m = envmgr::choose_installer(*layout);
  CHECK(m.kind == envmgr::InstallerKind::mamba);
  CHECK(m.program == (root / "bin" / "mamba").string());

  // A file named mamba that cannot be run is not an installer.
  ::chmod((root / "bin" / "mamba").c_str(), 0644);
  CHECK(envmgr::choose_installer(*layout).kind == envmgr::InstallerKind::conda);
}

TEST_CASE("a venv is always changed with pip, even with a conda program in it") {
  TempDir t;
  fs::path root = t.path / "user";
  fs::create_directories(root / "lib" / "python3.11" / "site-packages");
  std::ofstream(root / "pyvenv.cfg") << "home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.2\n";
  fs::create_directories(root / "bin");
  fs::create_symlink("/usr/bin/python3", root / "bin" / "python");
  touch_executable(root / "bin" / "mamba");
  auto layout = envmgr::detect_layout(root.string());
  REQUIRE(layout);
  auto inst = envmgr::choose_installer(*layout);
  CHECK(inst.kind == envmgr::InstallerKind::pip);
  CHECK_FALSE(envmgr::conda_install_command(inst, *layout, reqs({"numpy"}), false));
}

TEST_CASE("install, upgrade and remove command lines for mamba are argv, one spec per element") {
  envmgr::EnvLayout layout;
  layout.root = "/opt/tljh/user";
  layout.kind = envmgr::EnvKind::conda;
  envmgr::Installer mamba{envmgr::InstallerKind::mamba, "/opt/tljh/user/bin/mamba"};

  auto install = envmgr::conda_install_command(mamba, layout, reqs({"NumPy>=1.2,<2", "Pandas_Stubs==1.5.*", "scipy"}),
                                               false);
  REQUIRE(install);
  CHECK(*install == Argv{"/opt/tljh/user/bin/mamba", "install", "--prefix", "/opt/tljh/user", "--yes", "--quiet",
                         "numpy>=1.2,<2", "pandas-stubs=1.5", "scipy"});

  // conda's update takes names only; with a version constraint, install does the upgrade.
  auto update = envmgr::conda_install_command(mamba, layout, reqs({"numpy", "scipy"}), true);
  REQUIRE(update);
  CHECK(*update == Argv{"/opt/tljh/user/bin/mamba", "update", "--prefix", "/opt/tljh/user", "--yes", "--quiet",
                        "numpy", "scipy"});
  auto bounded = envmgr::conda_install_command(mamba, layout, reqs({"numpy", "scipy>=1.10"}), true);
  REQUIRE(bounded);
  CHECK((*bounded)[1] == "install");

  CHECK(envmgr::conda_remove_command(mamba, layout, {"Pandas_Stubs", "scipy"}) ==
        Argv{"/opt/tljh/user/bin/mamba", "remove", "--prefix", "/opt/tljh/user", "--yes", "--quiet", "pandas-stubs",
             "scipy"});
}

TEST_CASE("requests conda cannot express go to pip") {
  envmgr::EnvLayout layout;
  layout.root = "/opt/tljh/user";
  layout.kind = envmgr::EnvKind::conda;
  envmgr::Installer conda{envmgr::InstallerKind::conda, "/opt/tljh/user/bin/conda"};
  CHECK_FALSE(envmgr::conda_install_command(conda, layout, reqs({"numpy", "requests[socks]"}), false));
  CHECK_FALSE(envmgr::conda_install_command(conda, layout, reqs({"numpy; python_version >= '3.8'"}), false));
  CHECK_FALSE(envmgr::conda_install_command(conda, layout, reqs({"numpy===1.26.0"}), false));
  CHECK_FALSE(envmgr::conda_install_command(conda, layout, {}, false));
  auto hashed = envmgr::parse_requirements_file("numpy==1.26.0 --hash=sha256:" + std::string(64, 'a') + "\n");
  CHECK_FALSE(envmgr::conda_install_command(conda, layout, hashed, false));
  CHECK(envmgr::conda_match_spec(envmgr::parse_requirement("numpy~=1.26")) == "numpy~=1.26");
  CHECK(envmgr::conda_match_spec(envmgr::parse_requirement("numpy!=1.0")) == "numpy!=1.0");
  CHECK_FALSE(envmgr::conda_match_spec(envmgr::parse_requirement("numpy!=1.*")));
}
