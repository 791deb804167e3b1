// Courses, for instructors and admins: register course repositories, make
// git-pull links (branch and file chosen from the repository itself), show
// them as QR codes, warm the mirror cache before class.
//
// Pages: /hub/courses, /hub/courses/{id}, /hub/courses/{id}/qr(.svg|.png).
// API:   /hub/api/courses[/{id}[/refs|/files|/link|/warm]].
#include <set>

#include <nlohmann/json.hpp>

#include "common/time_util.hpp"

#include "api/models.hpp"
#include "app.hpp"
#include "auth/auth.hpp"
#include "courses/course_store.hpp"
#include "courses/links.hpp"
#include "courses/pull_stats.hpp"
#include "courses/qr_code.hpp"
#include "courses/views.hpp"
#include "gitpuller/credentials.hpp"
#include "gitpuller/error.hpp"
#include "gitpuller/mirror_cache.hpp"
#include "gitpuller/url.hpp"
#include "gitpull/source_policy.hpp"
#include "modules.hpp"
#include "pages/render.hpp"
#include "util/log.hpp"

namespace hub {
namespace {

using courses::Course;
using courses::CourseError;
using courses::CourseInput;
using courses::LinkSpec;
using http::HttpError;
using http::Request;
using http::Response;
using nlohmann::json;

const http::RouteOptions kFormOptions{64 * 1024, std::chrono::seconds(30)};
constexpr std::size_t kMaxFilesShown = 5000;

Identity teacher_api(App& app, Request& req) {
  auto me = app.auth().require_api_user(req);
  courses::require_teacher(me);
  return me;
}

Identity teacher_page(App& app, Request& req) {
  auto me = app.auth().require_page_user(req);
  courses::require_teacher(me);
  return me;
}

gitpuller::RepoUrl repo_of(const Course& c) { return gitpuller::parse_repo_url(c.repo_url); }

json cache_of(App& app, const Course& c) {
  try {
    return courses::mirror_json(app.mirrors().stats(repo_of(c)));
  } catch (const std::exception& e) {
    return {{"state", "error"}, {"last_error", e.what()}, {"upstream_fetches", 0}, {"branches", json::array()}};
  }
}

json course_json(App& app, const Course& c) {
  return {{"id", c.id},
          {"title", c.title},
          {"repo", c.repo_url},
          {"default_branch", c.default_branch},
          {"default_file", c.default_file},
          {"created_by", c.created_by ? json(*c.created_by) : json(nullptr)},
          {"created", iso_time(c.created)},
          {"updated", iso_time(c.updated)},
          {"cache", cache_of(app, c)}};
}

// What upstream (or, when it cannot be reached, the mirror) has.
struct Refs {
  std::vector<std::string> branches;
  std::vector<std::string> tags;
  std::optional<std::string> default_branch;
  std::map<std::string, std::string> tips;  // short name -> commit
  bool from_upstream = false;
  bool fetched = false;
  std::optional<std::string> error;  // why upstream could not be read
  std::optional<std::string> error_code;
};

Refs refs_from(const gitpuller::RefSnapshot& snap) {
  Refs r;
  r.branches = snap.branches();
  r.tags = snap.tags();
  if (auto d = snap.resolve_default()) r.default_branch = d->ref.substr(std::string("refs/heads/").size());
  for (const auto& b : r.branches)
    if (auto res = snap.resolve(b)) r.tips[b] = res->commit;
  for (const auto& t : r.tags)
    if (!r.tips.count(t))
      if (auto res = snap.resolve(t)) r.tips[t] = res->commit;
  return r;
}

// Brings the mirror up to date with upstream (one refs request, a download
// only when something changed) and returns its refs.  When upstream cannot
// be read, the mirror's last state with the error; when there is no mirror
// either, only the error.
Refs refresh_refs(App& app, const Course& c) {
  auto url = repo_of(c);
  try {
    auto snap = app.mirrors().refresh(url);
    Refs r = refs_from(snap.refs);
    r.from_upstream = true;
    r.fetched = snap.fetched;
    return r;
  } catch (const gitpuller::SyncError& e) {
    Refs r;
    try {
      r = refs_from(gitpuller::read_mirror(app.mirrors().path_for(url)).refs);
    } catch (const gitpuller::SyncError&) {
    }
    r.error = e.what();
    r.error_code = std::string(gitpuller::to_string(e.code()));
    return r;
  }
}

json refs_json(const Refs& r) {
  return {{"branches", r.branches},
          {"tags", r.tags},
          {"default_branch", r.default_branch ? json(*r.default_branch) : json(nullptr)},
          {"tips", r.tips},
          {"source", r.from_upstream ? "upstream" : "cache"},
          {"error", r.error ? json(*r.error) : json(nullptr)},
          {"error_code", r.error_code ? json(*r.error_code) : json(nullptr)}};
}

// The files of `branch` ("" = default) in the mirror; refreshes once when
// the mirror does not have the branch (or does not exist yet).
std::vector<std::string> files_of(App& app, const Course& c, const std::string& branch) {
  auto url = repo_of(c);
  try {
    return app.mirrors().list_files(url, branch);
  } catch (const gitpuller::SyncError&) {
  }
  try {
    app.mirrors().refresh(url);
    return app.mirrors().list_files(url, branch);
  } catch (const gitpuller::SyncError& e) {
    int status = e.code() == gitpuller::ErrorCode::branch_exist ? 404 : 502;
    throw HttpError(status, e.what());
  }
}

std::string default_app_name(App& app) { return app.config()->default_app == "classic" ? "classic" : "lab"; }

// The link generator's choices from a query string or form, with the
// course's defaults for what is missing.
LinkSpec spec_from(App& app, const Course& c, const Request& req) {
  auto field = [&req](const char* name) -> std::optional<std::string> {
    if (auto v = req.query_param(name)) return v;
    return req.form_field(name);
  };
  LinkSpec spec;
  spec.repo = c.repo_url;
  spec.branch = field("branch").value_or(c.default_branch);
  spec.file = field("file").value_or(c.default_file);
  spec.target = field("target").value_or("");
  std::string app_name = field("app").value_or(default_app_name(app));
  auto iface = courses::parse_interface(app_name.empty() ? default_app_name(app) : app_name);
  if (!iface) throw CourseError(400, "app: choose lab (JupyterLab) or classic (the classic notebook)");
  spec.app = *iface;
  return courses::checked_spec(spec);
}

// The links for `spec`; `other_hub` (may be "") adds the nbgitpuller form
// for that hub, CourseError 400 when it is not a hub address.
json link_json(App& app, const Request& req, const Course& c, const LinkSpec& spec, const std::string& other_hub) {
  std::string root = courses::hub_root_for(app, req);
  std::string link = courses::coursehub_link(root, spec);
  std::string qs = "branch=" + http::url_encode(spec.branch) + "&file=" + http::url_encode(spec.file) +
                   "&app=" + std::string(courses::to_string(spec.app)) + "&target=" + http::url_encode(spec.target);
  std::string base = app.url("/hub/courses/" + std::to_string(c.id));
  json out = courses::spec_json(spec);
  out["link"] = link;
  out["qr_svg"] = base + "/qr.svg?" + qs;
  out["qr_png"] = base + "/qr.png?" + qs;
  out["projector"] = base + "/qr?" + qs;
  out["nbgitpuller_link"] = nullptr;
  if (!other_hub.empty()) {
    out["nbgitpuller_link"] = courses::nbgitpuller_link(other_hub, spec);
    out["hub"] = courses::normalize_hub_url(other_hub);
  }
  return out;
}

json warm(App& app, const Identity& me, const Course& c) {
  auto url = repo_of(c);
  json out;
  try {
    auto snap = app.mirrors().refresh(url);
    out["ok"] = true;
    out["fetched"] = snap.fetched;
    out["message"] = snap.fetched ? "Downloaded the latest version of " + c.title + " from upstream."
                                  : "The cache of " + c.title + " already had upstream's latest version.";
  } catch (const gitpuller::SyncError& e) {
    out["ok"] = false;
    out["fetched"] = false;
    out["code"] = std::string(gitpuller::to_string(e.code()));
    out["message"] = e.what();
  }
  log::info("cache of " + url.clean + " warmed by " + me.name + ": " + out["message"].get<std::string>());
  out["cache"] = cache_of(app, c);
  return out;
}

std::string short_commit(const std::optional<std::string>& c) { return c ? c->substr(0, 10) : ""; }

json opt_json(const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); }

// Who synced which commit and when, compared with the tips in `refs`;
// failures with their codes.  Rows carry display flags for the page.
json stats_json(App& app, const Course& c, const Refs& refs) {
  constexpr double kWeek = 7 * 24 * 3600;
  auto folders = courses::folders_of_repo(app.db(), c.repo_key);
  json students = json::array();
  std::set<std::string> users;
  std::int64_t up = 0, behind = 0, failing = 0, never = 0, syncing = 0;
  for (const auto& f : folders) {
    users.insert(f.user);
    std::string branch = f.success_branch.value_or(f.branch);
    std::string effective = branch.empty() ? refs.default_branch.value_or("") : branch;
    json up_to_date = nullptr;
    std::string tip;
    if (auto it = refs.tips.find(effective); it != refs.tips.end()) tip = it->second;
    if (f.commit && !tip.empty()) up_to_date = *f.commit == tip;
    std::string state;
    if (f.last_outcome == "running") state = "syncing";
    else if (f.last_outcome == "error") state = f.commit ? "failing" : "never";
    else if (up_to_date.is_boolean()) state = up_to_date.get<bool>() ? "latest" : "behind";
    else state = "unknown";
    if (up_to_date == true) ++up;
    if (up_to_date == false) ++behind;
    if (!f.commit) ++never;
    if (f.last_outcome == "error") ++failing;
    if (state == "syncing") ++syncing;
    json row = {{"user", f.user},
                {"folder", f.target},
                {"branch", effective},
                {"commit", opt_json(f.commit)},
                {"commit_short", short_commit(f.commit)},
                {"synced_at", iso_time(f.synced_at)},
                {"outcome", opt_json(f.synced_outcome)},
                {"up_to_date", up_to_date},
                {"latest_commit", tip.empty() ? json(nullptr) : json(tip)},
                {"last_outcome", f.last_outcome},
                {"attempted_at", iso_time(f.attempted_at)},
                {"error_code", opt_json(f.error_code)},
                {"error_message", opt_json(f.error_message)},
                {"state", state}};
    row["state_" + state] = true;
    students.push_back(std::move(row));
  }
  json failures = json::array();
  for (const auto& f : courses::recent_failures(app.db(), c.repo_key, 20))
    failures.push_back({{"user", f.user}, {"folder", f.target}, {"branch", f.branch}, {"code", f.code},
                        {"message", f.message}, {"at", iso_time(f.at)}});
  json counts = json::object();
  for (const auto& [code, n] : courses::failure_counts(app.db(), c.repo_key, common::unix_seconds() - kWeek))
    counts[code] = n;
  json summary = {{"students", users.size()}, {"folders", folders.size()}, {"up_to_date", up},
                  {"behind", behind},           {"never_synced", never},     {"failing", failing},
                  {"syncing", syncing}};
  return {{"summary", summary},
          {"students", students},
          {"failures", failures},
          {"failure_counts_7d", counts},
          {"tips", refs.tips},
          {"default_branch", refs.default_branch ? json(*refs.default_branch) : json(nullptr)}};
}

// The page's view of the stats: counts as text, flags for sections.
json stats_view(json stats) {
  const json& s = stats["summary"];
  json view = stats;
  view["has_students"] = !stats["students"].empty();
  view["has_failures"] = !stats["failures"].empty();
  for (const char* k : {"students", "up_to_date", "behind", "never_synced", "failing", "syncing"}) {
    view["n_" + std::string(k)] = std::to_string(s[k].get<std::int64_t>());
    view["has_" + std::string(k)] = s[k].get<std::int64_t>() > 0;
  }
  json codes = json::array();
  for (const auto& [code, n] : stats["failure_counts_7d"].items())
    codes.push_back({{"code", code}, {"count", std::to_string(n.get<std::int64_t>())}});
  view["codes"] = codes;
  view["has_codes"] = !codes.empty();
  return view;
}

// Links to a repository the hub would refuse to sync are useless: say so
// when the course is registered (gitpuller.allowed_sources).
void check_source(App& app, const CourseInput& in) {
  if (!in.repo || in.repo->empty()) return;
  gitpull::SourcePolicy policy(app.config()->gitpuller_allowed_sources);
  if (auto refusal = policy.check(*in.repo))
    throw CourseError(400, "repo: " + *refusal + " An admin can allow it with `coursehub config add-item "
                           "gitpuller.allowed_sources PREFIX`.");
}

CourseInput input_from_json(const json& body) {
  if (!body.is_object()) throw HttpError(400, "the JSON body must be an object");
  CourseInput in;
  for (const auto& [k, v] : body.items()) {
    if (k != "repo" && k != "title" && k != "default_branch" && k != "default_file")
      throw HttpError(400, "unknown field '" + k + "'");
    if (!v.is_string() && !v.is_null()) throw HttpError(400, "'" + k + "' must be a string");
  }
  auto get = [&body](const char* k) -> std::optional<std::string> {
    if (!body.contains(k) || body[k].is_null()) return std::nullopt;
    return body[k].get<std::string>();
  };
  in.repo = get("repo");
  in.title = get("title");
  in.branch = get("default_branch");
  in.file = get("default_file");
  return in;
}

CourseInput input_from_form(const Request& req) {
  CourseInput in;
  in.repo = req.form_field("repo");
  in.title = req.form_field("title");
  in.branch = req.form_field("default_branch");
  in.file = req.form_field("default_file");
  return in;
}

// -- API --------------------------------------------------------------------

void add_api(App& app) {
  auto& r = app.router();
  r.add("GET", "/hub/api/courses", [&app](Request& req) {
    teacher_api(app, req);
    json out = json::array();
    for (const auto& c : courses::list_courses(app.db())) out.push_back(course_json(app, c));
    return Response::json(200, out);
  });
  r.add("POST", "/hub/api/courses", [&app](Request& req) {
    auto me = teacher_api(app, req);
    auto in = input_from_json(req.json_body());
    check_source(app, in);
    auto c = courses::create_course(app.db(), in, me.name);
    log::info("course " + std::to_string(c.id) + " (" + c.repo_url + ") registered by " + me.name);
    return Response::json(201, course_json(app, c));
  });
  r.add("GET", "/hub/api/courses/{id}", [&app](Request& req) {
    teacher_api(app, req);
    return Response::json(200, course_json(app, courses::course_or_404(app.db(), req.params[0])));
  });
  r.add("PATCH", "/hub/api/courses/{id}", [&app](Request& req) {
    auto me = teacher_api(app, req);
    auto c = courses::course_or_404(app.db(), req.params[0]);
    auto in = input_from_json(req.json_body());
    check_source(app, in);
    c = courses::update_course(app.db(), c.id, in);
    log::info("course " + std::to_string(c.id) + " changed by " + me.name);
    return Response::json(200, course_json(app, c));
  });
  r.add("DELETE", "/hub/api/courses/{id}", [&app](Request& req) {
    auto me = teacher_api(app, req);
    auto c = courses::course_or_404(app.db(), req.params[0]);
    courses::delete_course(app.db(), c.id);
    log::info("course " + std::to_string(c.id) + " (" + c.repo_url + ") removed by " + me.name);
    return Response::no_content();
  });
  r.add("GET", "/hub/api/courses/{id}/refs", [&app](Request& req) {
    teacher_api(app, req);
    auto c = courses::course_or_404(app.db(), req.params[0]);
    Refs refs = refresh_refs(app, c);
    if (refs.error && refs.branches.empty()) throw HttpError(502, *refs.error);
    return Response::json(200, refs_json(refs));
  });
  r.add("GET", "/hub/api/courses/{id}/files", [&app](Request& req) {
    teacher_api(app, req);
    auto c = courses::course_or_404(app.db(), req.params[0]);
    std::string branch = courses::check_branch(req.query_param("branch").value_or(c.default_branch));
    return Response::json(200, {{"branch", branch}, {"files", files_of(app, c, branch)}});
  });
  r.add("GET", "/hub/api/courses/{id}/link", [&app](Request& req) {
    teacher_api(app, req);
    auto c = courses::course_or_404(app.db(), req.params[0]);
    return Response::json(200, link_json(app, req, c, spec_from(app, c, req), req.query_param("hub").value_or("")));
  });
  r.add("GET", "/hub/api/courses/{id}/stats", [&app](Request& req) {
    teacher_api(app, req);
    auto c = courses::course_or_404(app.db(), req.params[0]);
    return Response::json(200, stats_json(app, c, refresh_refs(app, c)));
  });
  r.add("POST", "/hub/api/courses/{id}/warm", [&app](Request& req) {
    auto me = teacher_api(app, req);
    auto c = courses::course_or_404(app.db(), req.params[0]);
    return Response::json(200, warm(app, me, c));
  });
}

// -- pages ------------------------------------------------------------------

json course_row(App& app, const Course& c) {
  json row = course_json(app, c);
  row["url"] = app.url("/hub/courses/" + std::to_string(c.id));
  row["cache_" + row["cache"]["state"].get<std::string>()] = true;
  // Mustache shows sections for "" too: say plainly whether there is one.
  row["has_default_branch"] = !c.default_branch.empty();
  row["has_default_file"] = !c.default_file.empty();
  return row;
}

Response courses_page(App& app, Request& req, const Identity& me, json data, int status = 200) {
  json rows = json::array();
  for (const auto& c : courses::list_courses(app.db())) rows.push_back(course_row(app, c));
  data["title"] = "Courses";
  data["courses"] = rows;
  data["has_courses"] = !rows.empty();
  return render_page(app, req, me, "courses", data, status);
}

std::string done_message(const std::string& code) {
  if (code == "created") return "Course registered.";
  if (code == "saved") return "Course saved.";
  if (code == "removed") return "Course removed.";
  return "";
}

// The course page: link generator, cache, settings.  `extra` carries
// messages and a form's values after an error.
Response course_page(App& app, Request& req, const Identity& me, const Course& c, json extra, int status = 200) {
  json data = std::move(extra);
  data["title"] = c.title;
  // Refresh first, so the cache facts below say what the page shows.
  Refs refs = refresh_refs(app, c);
  data["course"] = course_row(app, c);
  // A broken stored credential stops every student's sync: say which one,
  // so the instructor can tell an admin (no secret, only the prefix).
  try {
    if (auto info = app.credentials().info_for(c.repo_url))
      if (auto problem = courses::credential_problem(*info))
        data["credential_alert"] = {{"prefix", info->prefix}, {"problem", *problem}, {"admin", me.admin},
                                    {"url", app.url("/hub/admin/credentials")}};
  } catch (const std::exception& e) {
    log::warning("course " + std::to_string(c.id) + ": the credential store cannot be read: " + e.what());
  }
  if (refs.error) {
    data["refs_error"] = *refs.error;
    data["refs_from_cache"] = !refs.branches.empty();
  }
  // The generator's choices: what the form sent, else the course's defaults.
  LinkSpec spec;
  std::optional<std::string> link_error;
  try {
    spec = spec_from(app, c, req);
  } catch (const HttpError& e) {
    link_error = e.what();
    spec.repo = c.repo_url;
    spec.branch = c.default_branch;
    spec.file = c.default_file;
    spec.app = default_app_name(app) == "lab" ? courses::Interface::lab : courses::Interface::classic;
  }
  std::string shown_branch = spec.branch.empty() ? refs.default_branch.value_or("") : spec.branch;
  json branches = json::array();
  bool branch_known = false;
  for (const auto& b : refs.branches) {
    bool sel = b == shown_branch;
    branch_known = branch_known || sel;
    branches.push_back({{"name", b}, {"selected", sel}, {"default", refs.default_branch && b == *refs.default_branch}});
  }
  json tags = json::array();
  for (const auto& t : refs.tags) {
    bool sel = t == shown_branch;
    branch_known = branch_known || sel;
    tags.push_back({{"name", t}, {"selected", sel}});
  }
  data["branches"] = branches;
  data["tags"] = tags;
  data["has_tags"] = !tags.empty();
  data["has_refs"] = !refs.branches.empty();
  if (!shown_branch.empty() && !branch_known && !refs.branches.empty())
    data["branch_missing"] = shown_branch;

  json files = json::array();
  bool file_known = spec.file.empty();
  if (!refs.branches.empty() && (branch_known || shown_branch.empty())) {
    try {
      auto list = files_of(app, c, shown_branch);
      for (std::size_t i = 0; i < list.size() && i < kMaxFilesShown; ++i) {
        bool sel = list[i] == spec.file;
        file_known = file_known || sel;
        files.push_back({{"path", list[i]}, {"selected", sel}, {"notebook", list[i].ends_with(".ipynb")}});
      }
    } catch (const HttpError& e) {
      data["files_error"] = e.what();
    }
  }
  data["files"] = files;
  data["has_files"] = !files.empty();
  if (!file_known && !files.empty()) data["file_missing"] = spec.file;
  data["gen"] = {{"branch", shown_branch},
                 {"file", spec.file},
                 {"target", spec.target},
                 {"lab", spec.app == courses::Interface::lab},
                 {"classic", spec.app == courses::Interface::classic},
                 {"hub", req.query_param("hub").value_or("")},
                 {"folder", courses::folder_of(spec)}};
  if (link_error) {
    data["link_error"] = *link_error;
  } else {
    if (spec.branch.empty() && refs.default_branch) spec.branch = *refs.default_branch;
    data["link"] = link_json(app, req, c, spec, "");
    if (auto other = req.query_param("hub"); other && !other->empty()) {
      try {
        data["link"]["nbgitpuller_link"] = courses::nbgitpuller_link(*other, spec);
      } catch (const HttpError& e) {
        data["hub_error"] = e.what();
      }
    }
  }
  // The cache, with each branch's tip.
  json tips = json::array();
  for (const auto& b : refs.branches) tips.push_back({{"name", b}, {"commit", refs.tips[b].substr(0, 10)}});
  data["stats"] = stats_view(stats_json(app, c, refs));
  data["has_tips"] = !tips.empty();
  data["tips"] = tips;
  if (!data.contains("message")) {
    auto msg = done_message(req.query_param("done").value_or(""));
    if (!msg.empty()) data["message"] = msg;
  }
  return render_page(app, req, me, "course", data, status);
}

Response course_done(App& app, const Course& c, const std::string& code) {
  return Response::redirect(app.url("/hub/courses/" + std::to_string(c.id)) + "?done=" + code, 303);
}

// The link the generator's query describes, as a QR code.
std::string qr_text(App& app, Request& req, const Course& c) {
  LinkSpec spec = spec_from(app, c, req);
  return courses::coursehub_link(courses::hub_root_for(app, req), spec);
}

courses::QrMatrix qr_for(App& app, Request& req, const Course& c) {
  try {
    return courses::qr_encode(qr_text(app, req, c));
  } catch (const std::invalid_argument& e) {
    throw HttpError(400, std::string("this link cannot be shown as a QR code: ") + e.what());
  }
}

void add_pages(App& app) {
  auto& r = app.router();
  r.add("GET", "/hub/courses", [&app](Request& req) {
    auto me = teacher_page(app, req);
    json data = json::object();
    if (auto msg = done_message(req.query_param("done").value_or("")); !msg.empty()) data["message"] = msg;
    return courses_page(app, req, me, data);
  });
  r.add("POST", "/hub/courses/new", [&app](Request& req) {
    auto me = teacher_page(app, req);
    Course c;
    try {
      auto in = input_from_form(req);
      check_source(app, in);
      c = courses::create_course(app.db(), in, me.name);
    } catch (const CourseError& e) {
      json keep = {{"error", e.what()},
                   {"form", {{"repo", gitpuller::strip_userinfo(req.form_field("repo").value_or(""))},
                             {"title", req.form_field("title").value_or("")},
                             {"default_branch", req.form_field("default_branch").value_or("")},
                             {"default_file", req.form_field("default_file").value_or("")}}}};
      return courses_page(app, req, me, keep, e.status());
    }
    log::info("course " + std::to_string(c.id) + " (" + c.repo_url + ") registered by " + me.name);
    return course_done(app, c, "created");
  }, kFormOptions);
  r.add("GET", "/hub/courses/{id}", [&app](Request& req) {
    auto me = teacher_page(app, req);
    auto c = courses::course_or_404(app.db(), req.params[0]);
    return course_page(app, req, me, c, json::object());
  });
  r.add("POST", "/hub/courses/{id}/edit", [&app](Request& req) {
    auto me = teacher_page(app, req);
    auto c = courses::course_or_404(app.db(), req.params[0]);
    try {
      auto in = input_from_form(req);
      check_source(app, in);
      c = courses::update_course(app.db(), c.id, in);
    } catch (const CourseError& e) {
      if (e.status() == 404) throw;
      return course_page(app, req, me, c, {{"edit_error", e.what()}}, e.status());
    }
    log::info("course " + std::to_string(c.id) + " changed by " + me.name);
    return course_done(app, c, "saved");
  }, kFormOptions);
  r.add("POST", "/hub/courses/{id}/delete", [&app](Request& req) {
    auto me = teacher_page(app, req);
    auto c = courses::course_or_404(app.db(), req.params[0]);
    courses::delete_course(app.db(), c.id);
    log::info("course " + std::to_string(c.id) + " (" + c.repo_url + ") removed by " + me.name);
    return Response::redirect(app.url("/hub/courses") + "?done=removed", 303);
  }, kFormOptions);
  r.add("POST", "/hub/courses/{id}/warm", [&app](Request& req) {
    auto me = teacher_page(app, req);
    auto c = courses::course_or_404(app.db(), req.params[0]);
    json result = warm(app, me, c);
    json data = {{"warm_ok", result["ok"]}, {"warm_message", result["message"]}, {"warmed", true}};
    return course_page(app, req, me, c, data);
  }, kFormOptions);
  r.add("GET", "/hub/courses/{id}/qr.svg", [&app](Request& req) {
    teacher_page(app, req);
    auto c = courses::course_or_404(app.db(), req.params[0]);
    auto res = Response::text(200, courses::qr_svg(qr_for(app, req, c)), "image/svg+xml");
    res.header("Cache-Control", "no-store");
    return res;
  });
  r.add("GET", "/hub/courses/{id}/qr.png", [&app](Request& req) {
    teacher_page(app, req);
    auto c = courses::course_or_404(app.db(), req.params[0]);
    int scale = 8;
    if (auto s = req.query_param("scale"); s && !s->empty()) {
      try {
        scale = std::stoi(*s);
      } catch (const std::exception&) {
        scale = 0;
      }
      if (scale < 1 || scale > 40) throw HttpError(400, "scale: a whole number from 1 to 40");
    }
    auto res = Response::text(200, courses::qr_png(qr_for(app, req, c), scale), "image/png");
    res.header("Cache-Control", "no-store");
    return res;
  });
  r.add("GET", "/hub/courses/{id}/qr", [&app](Request& req) {
    auto me = teacher_page(app, req);
    auto c = courses::course_or_404(app.db(), req.params[0]);
    LinkSpec spec = spec_from(app, c, req);
    json link = link_json(app, req, c, spec, "");
    json data = {{"title", c.title}, {"course", course_row(app, c)}, {"link", link},
                 {"qr", courses::qr_svg(qr_for(app, req, c))}};
    return render_page(app, req, me, "projector", data);
  });
}

}  // namespace

void add_course_routes(App& app) {
  add_api(app);
  add_pages(app);
  // A student's home page lists the folders they synced, with "sync now".
  app.hooks().page_data.push_back([&app](std::string_view page, const Identity* viewer, json& data) {
    if (page != "home" || !viewer) return;
    std::map<std::string, std::string> titles;
    for (const auto& c : courses::list_courses(app.db())) titles[c.repo_key] = c.title;
    auto app_name = courses::parse_interface(default_app_name(app)).value_or(courses::Interface::lab);
    json rows = json::array();
    for (const auto& f : courses::folders_of_user(app.db(), viewer->user_id)) {
      LinkSpec spec;
      spec.repo = f.repo;
      spec.branch = f.success_branch.value_or(f.branch);
      spec.target = f.target;
      spec.app = app_name;
      std::string sync_url;
      try {
        sync_url = courses::coursehub_link(app.url("/"), courses::checked_spec(spec));
      } catch (const HttpError&) {
        continue;  // not a folder a link can name any more
      }
      auto title = titles.find(f.repo_key);
      rows.push_back({{"folder", f.target},
                      {"repo", f.repo},
                      {"title", title != titles.end() ? title->second : f.repo},
                      {"branch", spec.branch},
                      {"has_branch", !spec.branch.empty()},
                      {"commit", opt_json(f.commit)},
                      {"commit_short", short_commit(f.commit)},
                      {"synced_at", iso_time(f.synced_at)},
                      {"failed", f.last_outcome == "error"},
                      {"syncing", f.last_outcome == "running"},
                      {"error_message", opt_json(f.error_message)},
                      {"sync_url", sync_url}});
    }
    data["synced"] = rows;
    data["has_synced"] = !rows.empty();
  });
  // The admin page lists every mirror: upstream downloads and cache state per repository.
  app.hooks().page_data.push_back([&app](std::string_view page, const Identity* viewer, json& data) {
    if (page != "admin" || !viewer || !viewer->admin) return;
    std::map<std::string, Course> by_key;
    for (auto& c : courses::list_courses(app.db())) by_key[c.repo_key] = c;
    json rows = json::array();
    for (const auto& stats : app.mirrors().list()) {
      json row = courses::mirror_json(stats);
      row["url"] = stats.url;
      row["state_" + row["state"].get<std::string>()] = true;
      if (auto it = by_key.find(gitpuller::repo_key(stats.url)); it != by_key.end()) {
        row["course_title"] = it->second.title;
        row["course_url"] = app.url("/hub/courses/" + std::to_string(it->second.id));
      }
      rows.push_back(std::move(row));
    }
    data["mirrors"] = rows;
    data["has_mirrors"] = !rows.empty();
  });
}

}  // namespace hub
