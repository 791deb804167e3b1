// coursehub link: the git-pull links the course page makes, from the shell.
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "common/sqlite.hpp"
#include "courses/course_store.hpp"
#include "courses/links.hpp"
#include "courses/qr_code.hpp"
#include "db/state.hpp"
#include "hub/config.hpp"

namespace hub::cli {
namespace {

constexpr const char* kLinkUsage =
    "link REPO_URL [--branch B] [--file PATH] [--app lab|classic] [--target FOLDER]\n"
    "            [--hub URL] [--nbgitpuller OTHER_HUB_URL] [--qr FILE.svg|FILE.png] [--json]\n"
    "       link --course ID [same options]   (defaults from a registered course)";

int fail(const std::string& code, const std::string& message) {
  std::cerr << "error: " << code << ": " << message << "\n";
  return 1;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

int cmd_link(const Argv& argv) {
  Args args(argv, {"branch", "file", "app", "target", "hub", "nbgitpuller", "qr", "course"}, {"json"});
  bool by_course = args.value("course").has_value();
  if (args.positional().size() != (by_course ? 0u : 1u)) throw UsageError(kLinkUsage);
  try {
    HubConfig cfg = load_config(config_path(args.prefix()));
    courses::LinkSpec spec;
    if (by_course) {
      auto db = db::open_hub_database(args.prefix());
      auto course = courses::course_or_404(*db, *args.value("course"));
      spec.repo = course.repo_url;
      spec.branch = course.default_branch;
      spec.file = course.default_file;
    } else {
      spec.repo = args.positional()[0];
    }
    if (auto b = args.value("branch")) spec.branch = *b;
    if (auto f = args.value("file")) spec.file = *f;
    if (auto t = args.value("target")) spec.target = *t;
    std::string app_name = args.value("app").value_or(cfg.default_app);
    auto app = courses::parse_interface(app_name);
    if (!app) return fail("invalid", "--app must be lab or classic, got '" + app_name + "'");
    spec.app = *app;
    spec = courses::checked_spec(spec);

    std::string root = args.value("hub") ? courses::normalize_hub_url(*args.value("hub")) : cfg.base_url;
    std::string link = courses::coursehub_link(root, spec);
    std::optional<std::string> other;
    if (auto o = args.value("nbgitpuller")) other = courses::nbgitpuller_link(*o, spec);

    if (auto qr_file = args.value("qr")) {
      auto qr = courses::qr_encode(link);
      std::string data;
      if (ends_with(*qr_file, ".svg")) data = courses::qr_svg(qr);
      else if (ends_with(*qr_file, ".png")) data = courses::qr_png(qr, 8);
      else return fail("invalid", "--qr FILE must end in .svg or .png");
      std::ofstream out(*qr_file, std::ios::binary | std::ios::trunc);
      out << data;
      if (!out.flush()) return fail("invalid", "cannot write " + *qr_file);
    }

    if (args.flag("json")) {
      nlohmann::json out = courses::spec_json(spec);
      out["link"] = link;
      out["nbgitpuller_link"] = other ? nlohmann::json(*other) : nlohmann::json(nullptr);
      std::cout << out.dump(2) << "\n";
    } else {
      std::cout << link << "\n";
      if (other) std::cout << *other << "\n";
      if (!args.value("hub"))
        std::cerr << "(a link relative to this hub: add --hub https://your.hub.example/ for a full address)\n";
    }
    return 0;
  } catch (const courses::CourseError& e) {
    return fail(e.status() == 404 ? "not_found" : "invalid", e.what());
  } catch (const ConfigError& e) {
    return fail("config", e.what());
  } catch (const common::SqliteError& e) {
    return fail("database", e.what());
  } catch (const std::invalid_argument& e) {
    return fail("invalid", e.what());
  }
}

}  // namespace hub::cli
