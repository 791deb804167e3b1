#include "envmgr/site.hpp"

#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/envmgr-site-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
};

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

}  // namespace

TEST_CASE("a folder without pyvenv.cfg or conda-meta is not an environment") {
  TempDir t;
  write(t.path / "user" / "notes.txt", "x");
  CHECK_FALSE(envmgr::detect_layout((t.path / "user").string()));
  CHECK_FALSE(envmgr::detect_layout((t.path / "missing").string()));
}

TEST_CASE("distributions are found, deduplicated and ordered like pip list") {
  TempDir t;
  fs::path root = t.path / "user";
  fs::path site = root / "lib" / "python3.11" / "site-packages";
  write(root / "pyvenv.cfg", "home = /nonexistent/bin\ninclude-system-site-packages = false\nversion = 3.11.2\n");
  fs::create_directories(root / "bin");
  fs::create_symlink("/usr/bin/python3", root / "bin" / "python");
  write(site / "Zeta_Pkg-1.0.dist-info" / "METADATA", "Metadata-Version: 2.1\nName: Zeta_Pkg\nVersion: 01.0-1\n\nbody: x\n");
  write(site / "Zeta_Pkg-1.0.dist-info" / "INSTALLER", "\npip\n");
  write(site / "alpha-2.0.dist-info" / "METADATA", "Name: alpha\nVersion: 2.0\n");
  write(site / "old_thing-0.1.egg-info", "Metadata-Version: 1.0\nName: old-thing\nVersion: 0.1\n");
  write(site / "~ip-23.0.dist-info" / "METADATA", "Name: pip\nVersion: 23.0\n");  // pip's leftover stash
  write(site / "noname-1.0.dist-info" / "METADATA", "Version: 1.0\n");             // skipped, like pip
  write(site / "wsgiref-0.1.egg-info", "Name: wsgiref\nVersion: 0.1\n");           // pip hides it
  write(site / "extra.pth", "# comment\nimport os\n../../../extra\n");
  write(root / "extra" / "alpha-9.0.dist-info" / "METADATA", "Name: alpha\nVersion: 9.0\n");   // shadowed
  write(root / "extra" / "beta-1.0.dist-info" / "METADATA", "Name: beta\nVersion: 1.0\n");

  auto layout = envmgr::detect_layout(root.string());
  REQUIRE(layout);
  CHECK(layout->python_xy == "3.11");
  CHECK_FALSE(layout->system_site_packages);
  auto dists = envmgr::scan_distributions(*layout);
  std::vector<std::string> seen;
  for (const auto& d : dists) seen.push_back(d.name + "==" + d.version + (d.own ? " own" : " inherited"));
  CHECK(seen == std::vector<std::string>{"alpha==2.0 own", "beta==1.0 inherited", "old-thing==0.1 own",
                                         "Zeta_Pkg==1.0.post1 own"});
  CHECK(dists.back().installer == "pip");
  auto own = envmgr::own_distributions(*layout);
  CHECK(own.size() == 3);
  CHECK(own.count("zeta-pkg") == 1);
}
