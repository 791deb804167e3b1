// `coursehub course ...`: course repositories from the shell, the same
// records the course pages and /hub/api/courses keep.  They work on
// P/state/hub.sqlite directly, with or without a running hub, and refuse a
// repository the hub would not sync from (gitpuller.allowed_sources), as the
// pages do.
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "common/sqlite.hpp"
#include "api/models.hpp"
#include "courses/course_store.hpp"
#include "db/state.hpp"
#include "gitpull/source_policy.hpp"
#include "hub/config.hpp"

namespace hub::cli {
namespace {

constexpr const char* kCourseUsage =
    "course add REPO_URL [--title T] [--branch B] [--file PATH] [--by USER]\n"
    "       course list [--json]\n"
    "       course remove ID";

int fail(const std::string& code, const std::string& message) {
  std::cerr << "error: " << code << ": " << message << "\n";
  return 1;
}

template <class Fn>
int guarded(Fn fn) {
  try {
    return fn();
  } catch (const courses::CourseError& e) {
    return fail(e.status() == 404 ? "not_found" : e.status() == 409 ? "exists" : "invalid", e.what());
  } catch (const ConfigError& e) {
    return fail("config", e.what());
  } catch (const common::SqliteError& e) {
    return fail("database", e.what());
  }
}

nlohmann::json course_json(const courses::Course& c) {
  return {{"id", c.id},
          {"title", c.title},
          {"repo", c.repo_url},
          {"default_branch", c.default_branch},
          {"default_file", c.default_file},
          {"created_by", c.created_by ? nlohmann::json(*c.created_by) : nlohmann::json(nullptr)},
          {"created", iso_time(c.created)}};
}

int course_add(const Argv& argv) {
  Args args(argv, {"title", "branch", "file", "by"}, {});
  if (args.positional().size() != 1) throw UsageError(kCourseUsage);
  return guarded([&] {
    HubConfig cfg = load_config(config_path(args.prefix()));
    courses::CourseInput in;
    in.repo = args.positional()[0];
    in.title = args.value("title");
    in.branch = args.value("branch");
    in.file = args.value("file");
    gitpull::SourcePolicy policy(cfg.gitpuller_allowed_sources);
    if (auto refusal = policy.check(*in.repo))
      return fail("refused", *refusal + " Allow it with `coursehub config add-item gitpuller.allowed_sources PREFIX`.");
    auto db = db::open_hub_database(args.prefix());
    auto c = courses::create_course(*db, in, args.value("by").value_or(""));
    std::cout << "registered course " << c.id << ": " << c.title << " (" << c.repo_url << ")\n";
    return 0;
  });
}

int course_list(const Argv& argv) {
  Args args(argv, {}, {"json"});
  if (!args.positional().empty()) throw UsageError(kCourseUsage);
  return guarded([&] {
    auto db = db::open_hub_database(args.prefix());
    auto list = courses::list_courses(*db);
    if (args.flag("json")) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& c : list) out.push_back(course_json(c));
      std::cout << out.dump(2) << "\n";
      return 0;
    }
    // One course a line: ID, repository, title, then the defaults links use.
    for (const auto& c : list) {
      std::cout << c.id << "\t" << c.repo_url << "\t" << c.title;
      if (!c.default_branch.empty()) std::cout << "\tbranch=" << c.default_branch;
      if (!c.default_file.empty()) std::cout << "\tfile=" << c.default_file;
      std::cout << "\n";
    }
    return 0;
  });
}

int course_remove(const Argv& argv) {
  Args args(argv, {}, {});
  if (args.positional().size() != 1) throw UsageError(kCourseUsage);
  return guarded([&] {
    auto db = db::open_hub_database(args.prefix());
    auto c = courses::course_or_404(*db, args.positional()[0]);
    courses::delete_course(*db, c.id);
    std::cout << "removed course " << c.id << ": " << c.title << " (its pull history is kept)\n";
    return 0;
  });
}

}  // namespace

int cmd_course(const Argv& argv) {
  if (argv.empty()) throw UsageError(kCourseUsage);
  Argv rest(argv.begin() + 1, argv.end());
  const std::string& verb = argv[0];
  if (verb == "add") return course_add(rest);
  if (verb == "list") return course_list(rest);
  if (verb == "remove") return course_remove(rest);
  throw UsageError("unknown course command '" + verb + "' (add, list, remove)");
}

}  // namespace hub::cli
