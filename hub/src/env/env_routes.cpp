// The admin Packages page and /hub/api/env/...: the shared environment
// through envmgr, one transaction at a time, with live logs.
//
// Changes asked for through the API become jobs in one queue, run in order
// by one dedicated thread (installer processes die with the thread that
// started them, so it must outlive them; pool threads are not ours to keep).
// Every job's output is kept in memory while the hub runs and pushed to its
// Server-Sent Events subscribers line by line, so a second admin opening the
// page sees the same stream from its beginning.  The environment lock is
// envmgr's: a transaction started by `coursehub env` on the command line
// makes the hub's job wait visibly ("waiting" with who holds it).
#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "app.hpp"
#include "auth/auth.hpp"
#include "envmgr/env_manager.hpp"
#include "envmgr/installer.hpp"
#include "envmgr/json.hpp"
#include "envmgr/requirement.hpp"
#include "modules.hpp"
#include "pages/render.hpp"
#include "util/log.hpp"

namespace hub {
namespace {

using http::HttpError;
using http::Request;
using http::Response;
using nlohmann::json;

struct Job {
  std::int64_t id = 0;
  std::string action;  // install | upgrade | remove | rollback
  std::vector<std::string> specs;
  std::optional<std::string> requirements;
  std::optional<std::int64_t> target;
  bool to_after = false;
  std::string requested_by;
  std::string state = "queued";  // queued | waiting | running | done
  std::optional<std::int64_t> transaction_id;
  json waiting_for;  // the transaction holding the lock while state == waiting
  json transaction;  // the finished transaction
  std::string error;  // why it could not run at all
  std::vector<std::string> lines;
  std::vector<std::shared_ptr<http::EventStream>> subscribers;
};

class EnvService {
 public:
  explicit EnvService(App& app) : app_(app) {}
  ~EnvService() { stop(); }

  envmgr::EnvManager manager() const {
    auto cfg = app_.config();
    envmgr::ManagerOptions o;
    o.prefix = app_.prefix();
    o.index.index_url = cfg->env_index_url;
    o.index.extra_index_urls = cfg->env_extra_index_urls;
    o.index.find_links = cfg->env_find_links;
    o.index.trusted_hosts = cfg->env_trusted_hosts;
    return envmgr::EnvManager(o);
  }

  void start() {
    std::lock_guard lk(mu_);
    if (!worker_.joinable()) worker_ = std::thread([this] { run(); });
  }

  // Waits for the job in progress (its installer must not be orphaned).
  void stop() {
    {
      std::lock_guard lk(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (worker_.joinable()) worker_.join();
  }

  json submit(Job job) {
    std::lock_guard lk(mu_);
    if (stopping_) throw HttpError(503, "the hub is shutting down");
    job.id = ++last_id_;
    auto p = std::make_shared<Job>(std::move(job));
    jobs_[p->id] = p;
    queue_.push_back(p);
    while (jobs_.size() > 200) jobs_.erase(jobs_.begin());
    cv_.notify_all();
    return to_json_locked(*p);
  }

  json jobs_json() {
    std::lock_guard lk(mu_);
    json arr = json::array();
    for (auto it = jobs_.rbegin(); it != jobs_.rend(); ++it) arr.push_back(to_json_locked(*it->second));
    return arr;
  }

  std::optional<json> job_json(std::int64_t id) {
    std::lock_guard lk(mu_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return std::nullopt;
    return to_json_locked(*it->second);
  }

  // The job for a transaction the hub runs or ran, if any.
  std::optional<std::int64_t> job_of_transaction(std::int64_t txn) {
    std::lock_guard lk(mu_);
    for (const auto& [id, j] : jobs_)
      if (j->transaction_id == txn) return id;
    return std::nullopt;
  }

  // Replays the job's state and output so far, then streams the rest.
  bool subscribe(std::int64_t id, const std::shared_ptr<http::EventStream>& s) {
    std::lock_guard lk(mu_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return false;
    auto& j = *it->second;
    s->send({{"type", "state"}, {"job", to_json_locked(j)}});
    for (const auto& l : j.lines) s->send({{"type", "line"}, {"line", l}});
    if (j.state == "done") {
      s->send({{"type", "done"}, {"job", to_json_locked(j)}});
      s->close();
    } else {
      j.subscribers.push_back(s);
    }
    return true;
  }

 private:
  json to_json_locked(const Job& j) const {
    json out = {{"id", j.id},
                {"action", j.action},
                {"specs", j.specs},
                {"requested_by", j.requested_by},
                {"state", j.state},
                {"transaction_id", j.transaction_id ? json(*j.transaction_id) : json(nullptr)},
                {"lines", j.lines.size()}};
    if (j.requirements) out["requirements"] = *j.requirements;
    if (j.target) out["target"] = *j.target;
    if (j.action == "rollback") out["to_after"] = j.to_after;
    if (j.state == "queued") {
      int pos = 1;
      for (const auto& q : queue_) {
        if (q.get() == &j) break;
        ++pos;
      }
      out["position"] = pos;
      // Changes that run before this one: those queued ahead, and the one in progress.
      int ahead = pos - 1;
      for (const auto& [id, other] : jobs_)
        if (other->state == "running" || other->state == "waiting") ++ahead;
      out["ahead"] = ahead;
    }
    if (j.state == "waiting") out["waiting_for"] = j.waiting_for;
    if (j.state == "done") {
      out["transaction"] = j.transaction;
      if (!j.error.empty()) out["error"] = j.error;
    }
    return out;
  }

  void broadcast_locked(Job& j, const json& event) {
    auto& subs = j.subscribers;
    subs.erase(std::remove_if(subs.begin(), subs.end(), [&](const auto& s) { return !s->send(event); }), subs.end());
  }

  void set_state(Job& j, std::string state) {
    std::lock_guard lk(mu_);
    j.state = std::move(state);
    broadcast_locked(j, {{"type", "state"}, {"job", to_json_locked(j)}});
    // Everyone queued behind moved up one place.
    for (const auto& q : queue_) broadcast_locked(*q, {{"type", "state"}, {"job", to_json_locked(*q)}});
  }

  void run() {
    for (;;) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock lk(mu_);
        cv_.wait(lk, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, nothing left
        if (stopping_) {
          // Jobs not started are dropped at shutdown; tell whoever watches.
          for (auto& q : queue_) {
            q->state = "done";
            q->error = "the hub stopped before this change could run; nothing was changed";
            broadcast_locked(*q, {{"type", "done"}, {"job", to_json_locked(*q)}});
            for (auto& s : q->subscribers) s->close();
            q->subscribers.clear();
          }
          queue_.clear();
          return;
        }
        job = queue_.front();
        queue_.pop_front();
      }
      set_state(*job, "running");
      execute(*job);
    }
  }

  void execute(Job& j) {
    envmgr::Observer obs;
    obs.on_wait = [&](const envmgr::RunningInfo& holder) {
      {
        std::lock_guard lk(mu_);
        j.waiting_for = envmgr::to_json(holder);
      }
      set_state(j, "waiting");
    };
    obs.on_start = [&](const envmgr::Transaction& t) {
      {
        std::lock_guard lk(mu_);
        j.transaction_id = t.id;
      }
      set_state(j, "running");
    };
    obs.on_line = [&](const std::string& line) {
      std::lock_guard lk(mu_);
      j.lines.push_back(line);
      broadcast_locked(j, {{"type", "line"}, {"line", line}});
    };
    json txn = nullptr;
    std::string error;
    try {
      auto mgr = manager();
      envmgr::ChangeRequest req;
      req.specs = j.specs;
      req.requirements = j.requirements;
      req.requested_by = j.requested_by;
      envmgr::Transaction t;
      if (j.action == "install") t = mgr.install(req, obs);
      else if (j.action == "upgrade") t = mgr.upgrade(req, obs);
      else if (j.action == "remove") t = mgr.remove(req, obs);
      else t = mgr.rollback(j.target, j.to_after, j.requested_by, obs);
      txn = envmgr::to_json(t);
    } catch (const envmgr::EnvError& e) {
      error = std::string(to_string(e.code())) + ": " + e.what();
    } catch (const std::exception& e) {
      error = std::string("unknown: ") + e.what();
      log::error(std::string("env job failed: ") + e.what());
    }
    std::lock_guard lk(mu_);
    j.state = "done";
    j.transaction = txn;
    j.error = error;
    broadcast_locked(j, {{"type", "done"}, {"job", to_json_locked(j)}});
    for (auto& s : j.subscribers) s->close();
    j.subscribers.clear();
  }

  App& app_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::map<std::int64_t, std::shared_ptr<Job>> jobs_;
  std::int64_t last_id_ = 0;
  bool stopping_ = false;
  std::thread worker_;
};

Identity require_admin_api(App& app, Request& req) {
  auto me = app.auth().require_api_user(req);
  Auth::require_admin(me);
  return me;
}

std::int64_t id_param(const std::string& s) {
  try {
    std::size_t n = 0;
    auto v = std::stoll(s, &n);
    if (n == s.size() && v > 0) return v;
  } catch (const std::exception&) {
  }
  throw HttpError(404, "no such id '" + s + "'");
}

HttpError env_http_error(const envmgr::EnvError& e) {
  using envmgr::ErrorCode;
  switch (e.code()) {
    case ErrorCode::not_an_env: return HttpError(409, e.what());
    case ErrorCode::not_installed:
    case ErrorCode::not_found: return HttpError(404, e.what());
    case ErrorCode::bad_spec:
    case ErrorCode::bad_requirements:
    case ErrorCode::bad_bundle: return HttpError(400, e.what());
    default: return HttpError(500, e.what());
  }
}

std::vector<std::string> string_list(const json& body, const char* name) {
  std::vector<std::string> out;
  if (!body.contains(name) || body[name].is_null()) return out;
  if (!body[name].is_array()) throw HttpError(400, std::string("'") + name + "' must be a list of strings");
  for (const auto& v : body[name]) {
    if (!v.is_string()) throw HttpError(400, std::string("'") + name + "' must be a list of strings");
    out.push_back(v.get<std::string>());
  }
  return out;
}

// Validates a change request fully before it is queued: a bad spec is a 400
// now, not a failed job later.
Job job_from_body(const json& body, const Identity& me) {
  if (!body.is_object()) throw HttpError(400, "the JSON body must be an object");
  for (const auto& [k, v] : body.items())
    if (k != "action" && k != "specs" && k != "requirements" && k != "target" && k != "to_after")
      throw HttpError(400, "unknown field '" + k + "'");
  Job j;
  j.action = body.value("action", "");
  j.requested_by = me.name + " (web)";
  j.specs = string_list(body, "specs");
  if (body.contains("requirements") && !body["requirements"].is_null()) {
    if (!body["requirements"].is_string()) throw HttpError(400, "'requirements' must be the text of a requirements file");
    if (!body["requirements"].get<std::string>().empty()) j.requirements = body["requirements"].get<std::string>();
  }
  try {
    if (j.action == "install" || j.action == "upgrade") {
      std::size_t n = 0;
      for (const auto& s : j.specs) {
        envmgr::parse_requirement(s);
        ++n;
      }
      if (j.requirements) n += envmgr::parse_requirements_file(*j.requirements).size();
      if (n == 0) throw HttpError(400, "give at least one requirement");
    } else if (j.action == "remove") {
      if (j.requirements) throw HttpError(400, "remove takes package names, not a requirements file");
      if (j.specs.empty()) throw HttpError(400, "give at least one package name");
      for (const auto& s : j.specs)
        if (!envmgr::valid_project_name(s)) throw HttpError(400, "'" + s + "' is not a valid package name");
    } else if (j.action == "rollback") {
      if (!j.specs.empty() || j.requirements) throw HttpError(400, "rollback takes 'target' and 'to_after' only");
      if (body.contains("target") && !body["target"].is_null()) {
        if (!body["target"].is_number_integer()) throw HttpError(400, "'target' must be a transaction id");
        j.target = body["target"].get<std::int64_t>();
      }
      if (body.contains("to_after")) {
        if (!body["to_after"].is_boolean()) throw HttpError(400, "'to_after' must be true or false");
        j.to_after = body["to_after"].get<bool>();
      }
    } else {
      throw HttpError(400, "'action' must be install, upgrade, remove or rollback");
    }
  } catch (const envmgr::EnvError& e) {
    throw env_http_error(e);
  }
  return j;
}

json env_info(const envmgr::EnvManager& mgr) {
  json env = {{"path", mgr.env_dir()}, {"exists", false}};
  try {
    auto l = mgr.layout();
    env = {{"path", mgr.env_dir()},
           {"exists", true},
           {"kind", envmgr::to_string(l.kind)},
           {"installer", envmgr::to_string(envmgr::choose_installer(l).kind)},
           {"python_version", l.python_version},
           {"system_site_packages", l.system_site_packages}};
  } catch (const envmgr::EnvError& e) {
    env["error"] = e.what();
  }
  if (auto r = mgr.running()) env["running"] = envmgr::to_json(*r);
  else env["running"] = nullptr;
  return env;
}

// Streams the log of a transaction run by another process (the CLI) by
// following its log file until it ends.
void follow_foreign_log(std::shared_ptr<EnvService> svc, std::int64_t txn, std::shared_ptr<http::EventStream> s) {
  std::thread([svc, txn, s] {
    std::uint64_t offset = 0;
    std::string pending;
    for (int idle = 0; !s->closed(); ++idle) {
      envmgr::LogChunk c;
      try {
        c = svc->manager().read_log(txn, offset);
      } catch (const std::exception& e) {
        s->send({{"type", "error"}, {"message", e.what()}});
        break;
      }
      offset = c.next_offset;
      pending += c.text;
      std::size_t pos;
      while ((pos = pending.find('\n')) != std::string::npos) {
        s->send({{"type", "line"}, {"line", pending.substr(0, pos)}});
        pending.erase(0, pos + 1);
      }
      if (c.finished) {
        if (!pending.empty()) s->send({{"type", "line"}, {"line", pending}});
        if (auto t = svc->manager().transaction(txn)) s->send({{"type", "done"}, {"transaction", envmgr::to_json(*t)}});
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    s->close();
  }).detach();
}

}  // namespace

void add_env_routes(App& app) {
  auto svc = std::make_shared<EnvService>(app);
  app.hooks().on_start.push_back([svc] {
    try {
      auto mgr = svc->manager();
      if (auto t = mgr.recover())
        log::info("env: transaction #" + std::to_string(t->id) + " had been interrupted; " + t->message);
      if (mgr.ensure_kernel_spec())
        log::info("env: wrote " + mgr.env_dir() + "/share/jupyter/kernels/python3/kernel.json, so kernels run the "
                  "environment's own Python");
    } catch (const envmgr::EnvError&) {
      // no environment yet: nothing to recover
    } catch (const std::exception& e) {
      log::error(std::string("env: recovery failed: ") + e.what());
    }
    svc->start();
  });
  app.hooks().on_shutdown.push_back([svc] { svc->stop(); });

  app.router().add("GET", "/hub/admin/packages", [&app, svc](Request& req) {
    auto me = app.auth().require_page_user(req);
    Auth::require_admin(me);
    json env = env_info(svc->manager());
    json data = {{"title", "Packages"},
                 {"env_path", env["path"]},
                 {"env_exists", env["exists"]},
                 {"env_kind", env.value("kind", "")},
                 {"env_installer", env.value("installer", "")},
                 {"env_python", env.value("python_version", "")},
                 {"env_system", env.value("system_site_packages", false)},
                 {"env_error", env.value("error", "")}};
    return render_page(app, req, me, "packages", data);
  });

  app.router().add("GET", "/hub/api/env", [&app, svc](Request& req) {
    require_admin_api(app, req);
    json out = env_info(svc->manager());
    out["jobs"] = svc->jobs_json();
    return Response::json(200, out);
  });

  app.router().add("GET", "/hub/api/env/packages", [&app, svc](Request& req) {
    require_admin_api(app, req);
    try {
      json arr = json::array();
      for (const auto& d : svc->manager().list()) arr.push_back(envmgr::to_json(d));
      return Response::json(200, {{"packages", arr}});
    } catch (const envmgr::EnvError& e) {
      throw env_http_error(e);
    }
  });

  app.router().add("GET", "/hub/api/env/packages/{name}", [&app, svc](Request& req) {
    require_admin_api(app, req);
    try {
      auto d = svc->manager().show(req.params[0]);
      if (!d) throw HttpError(404, req.params[0] + " is not installed");
      return Response::json(200, envmgr::to_json(*d));
    } catch (const envmgr::EnvError& e) {
      throw env_http_error(e);
    }
  });

  app.router().add("GET", "/hub/api/env/transactions", [&app, svc](Request& req) {
    require_admin_api(app, req);
    int limit = 50;
    if (auto l = req.query_param("limit")) {
      try {
        limit = std::clamp(std::stoi(*l), 1, 1000);
      } catch (const std::exception&) {
        throw HttpError(400, "'limit' must be a number");
      }
    }
    json arr = json::array();
    for (const auto& t : svc->manager().history(limit)) arr.push_back(envmgr::to_json(t));
    return Response::json(200, {{"transactions", arr}});
  });

  app.router().add("GET", "/hub/api/env/transactions/{id}", [&app, svc](Request& req) {
    require_admin_api(app, req);
    auto t = svc->manager().transaction(id_param(req.params[0]));
    if (!t) throw HttpError(404, "no transaction #" + req.params[0]);
    return Response::json(200, envmgr::to_json(*t, true));
  });

  auto submit = [&app, svc](Request& req, std::optional<std::string> forced_action) {
    auto me = require_admin_api(app, req);
    json body = req.json_body();
    if (forced_action) {
      if (!body.is_object()) throw HttpError(400, "the JSON body must be an object");
      body["action"] = *forced_action;
    }
    Job job = job_from_body(body, me);
    json out = svc->submit(std::move(job));
    log::info("env: " + me.name + " asked to " + out.value("action", "") + " (job " + std::to_string(out.value("id", 0)) + ")");
    return Response::json(202, out);
  };
  app.router().add("POST", "/hub/api/env/transactions",
                   [submit](Request& req) { return submit(req, std::nullopt); });
  app.router().add("POST", "/hub/api/env/rollback", [submit](Request& req) { return submit(req, "rollback"); });

  app.router().add("GET", "/hub/api/env/jobs", [&app, svc](Request& req) {
    require_admin_api(app, req);
    return Response::json(200, {{"jobs", svc->jobs_json()}});
  });

  app.router().add("GET", "/hub/api/env/jobs/{id}", [&app, svc](Request& req) {
    require_admin_api(app, req);
    auto j = svc->job_json(id_param(req.params[0]));
    if (!j) throw HttpError(404, "no job " + req.params[0]);
    return Response::json(200, *j);
  });

  // Server-Sent Events: {"type":"state"|"line"|"done", ...}.
  app.router().add_async("GET", "/hub/api/env/jobs/{id}/events",
                         [&app, svc](std::shared_ptr<Request> req, http::Reply reply) {
    app.pool().post([&app, svc, req, reply] {
      try {
        require_admin_api(app, *req);
        auto id = id_param(req->params[0]);
        if (!svc->job_json(id)) throw HttpError(404, "no job " + req->params[0]);
        auto stream = reply.start_event_stream();
        svc->subscribe(id, stream);
      } catch (const HttpError& e) {
        reply(app.error_response(*req, e));
      } catch (const std::exception& e) {
        reply(app.error_response(*req, 500, "internal error"));
      }
    });
  });

  // The log of any transaction, live while it runs (whoever started it).
  app.router().add_async("GET", "/hub/api/env/transactions/{id}/log",
                         [&app, svc](std::shared_ptr<Request> req, http::Reply reply) {
    app.pool().post([&app, svc, req, reply] {
      try {
        require_admin_api(app, *req);
        auto id = id_param(req->params[0]);
        if (!svc->manager().transaction(id)) throw HttpError(404, "no transaction #" + req->params[0]);
        auto stream = reply.start_event_stream();
        if (auto job = svc->job_of_transaction(id)) svc->subscribe(*job, stream);
        else follow_foreign_log(svc, id, stream);
      } catch (const HttpError& e) {
        reply(app.error_response(*req, e));
      } catch (const std::exception& e) {
        reply(app.error_response(*req, 500, "internal error"));
      }
    });
  });
}

}  // namespace hub
