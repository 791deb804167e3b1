// The credential store: encrypted at rest, offered only under its prefix,
// never shown again, scrubbed from messages.
#include "gitpuller/credentials.hpp"

#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "gitpuller_test_helpers.hpp"

using namespace testutil;
using gitpuller::CredentialError;
using gitpuller::CredentialStore;

namespace {

unsigned mode_of(const fs::path& p) {
  struct stat st{};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

}  // namespace

TEST_CASE("a stored credential is encrypted at rest, in files only its owner can read") {
  TempDir tmp;
  CredentialStore store(tmp / "state");
  store.add("https://git.example.edu/staff", "teacher", "ghp_SuperSecretToken1234", "2099-12-31");
  CHECK(mode_of(tmp / "state") == 0700);
  CHECK(mode_of(tmp / "state/credentials.key") == 0600);
  CHECK(mode_of(tmp / "state/credentials.json") == 0600);
  std::string on_disk = read_file(tmp / "state/credentials.json");
  CHECK(on_disk.find("SuperSecret") == std::string::npos);
  CHECK(read_file(tmp / "state/credentials.key").size() == 32);
  // A second store object (another process) reads it back.
  CredentialStore again(tmp / "state");
  auto cred = again.find("https://git.example.edu/staff/course.git");
  REQUIRE(cred);
  CHECK(cred->secret == "ghp_SuperSecretToken1234");
  CHECK(cred->username == "teacher");
  CHECK(cred->prefix == "https://git.example.edu/staff/");
}

TEST_CASE("listing shows prefix, user, last four characters and expiry, never the secret") {
  TempDir tmp;
  CredentialStore store(tmp / "state");
  store.add("HTTPS://Git.Example.edu/staff/", "teacher", "tok-abcd-9876", "2000-01-01");
  auto items = store.list();
  REQUIRE(items.size() == 1);
  CHECK(items[0].prefix == "https://git.example.edu/staff/");
  CHECK(items[0].username == "teacher");
  CHECK(items[0].last4 == "9876");
  CHECK(items[0].expires == "2000-01-01");
  CHECK(items[0].expired);
  CHECK_FALSE(items[0].last_used);
  store.record_use(items[0].prefix, "");
  store.record_use(items[0].prefix, "rejected by the server");
  items = store.list();
  CHECK(items[0].last_used.has_value());
  CHECK(items[0].last_error == "rejected by the server");
}

TEST_CASE("a credential is offered only for URLs under its prefix, the longest prefix winning") {
  TempDir tmp;
  CredentialStore store(tmp / "state");
  store.add("https://git.example.edu/org", "org-bot", "t1");
  store.add("https://git.example.edu/org/secret-course", "course-bot", "t2");
  CHECK(store.find("https://git.example.edu/org/intro.git")->username == "org-bot");
  // …/secret-course and …/secret-course.git name the same repository.
  CHECK(store.find("https://git.example.edu/org/secret-course.git")->username == "course-bot");
  CHECK(store.find("https://git.example.edu/org/secret-course.git/")->username == "course-bot");
  CHECK(store.find("https://git.example.edu/org/secret-course-2.git")->username == "org-bot");
  CHECK(store.find("https://git.example.edu/org/secret-courses.git")->username == "org-bot");
  CHECK(store.find("https://git.example.edu/org/secret-course/")->username == "course-bot");
  CHECK(store.find("https://git.example.edu/org/secret-course")->username == "course-bot");
  CHECK_FALSE(store.find("https://git.example.edu/organisation/x.git"));
  CHECK_FALSE(store.find("https://evil.example.com/org/intro.git"));
  CHECK_FALSE(store.find("http://git.example.edu/org/intro.git"));
  CHECK_FALSE(store.find("https://git.example.edu.evil.com/org/intro.git"));
  CHECK_FALSE(store.find("/srv/org/intro.git"));
}

TEST_CASE("adding a credential for the same prefix replaces it, and removing it forgets it") {
  TempDir tmp;
  CredentialStore store(tmp / "state");
  store.add("https://h.example/x/", "a", "old-secret");
  store.add("https://h.example/x", "b", "new-secret");
  auto items = store.list();
  REQUIRE(items.size() == 1);
  CHECK(items[0].username == "b");
  CHECK(store.find("https://h.example/x/repo")->secret == "new-secret");
  CHECK(store.remove("https://h.example/x"));
  CHECK_FALSE(store.remove("https://h.example/x"));
  CHECK(store.list().empty());
  CHECK_FALSE(store.find("https://h.example/x/repo"));
}

TEST_CASE("bad input is refused with a clear error and changes nothing") {
  TempDir tmp;
  CredentialStore store(tmp / "state");
  CHECK_THROWS_AS(store.add("ssh://h/x", "u", "s"), CredentialError);
  CHECK_THROWS_AS(store.add("https://user:pw@h/x", "u", "s"), CredentialError);
  CHECK_THROWS_AS(store.add("https://h/x", "", "s"), CredentialError);
  CHECK_THROWS_AS(store.add("https://h/x", "u", ""), CredentialError);
  CHECK_THROWS_AS(store.add("https://h/x", "u", "s", std::string("2024-02-30")), CredentialError);
  CHECK_THROWS_AS(store.add("https://h/x", "u", "s", std::string("tomorrow")), CredentialError);
  CHECK(store.list().empty());
}

TEST_CASE("a tampered secret does not decrypt") {
  TempDir tmp;
  CredentialStore store(tmp / "state");
  store.add("https://h.example/x", "u", "the-secret");
  auto j = nlohmann::json::parse(read_file(tmp / "state/credentials.json"));
  std::string sealed = j["credentials"][0]["secret"];
  sealed[sealed.size() / 2] = sealed[sealed.size() / 2] == 'A' ? 'B' : 'A';
  j["credentials"][0]["secret"] = sealed;
  write_file(tmp / "state/credentials.json", j.dump());
  CHECK_THROWS_AS(store.find("https://h.example/x/r"), CredentialError);
  // Moving the credential to another prefix breaks it too (bound as associated data).
  store.add("https://h.example/y", "u", "the-secret");
  j = nlohmann::json::parse(read_file(tmp / "state/credentials.json"));
  for (auto& c : j["credentials"]) c["prefix"] = "https://h.example/z/";
  write_file(tmp / "state/credentials.json", j.dump());
  CHECK_THROWS_AS(store.find("https://h.example/z/r"), CredentialError);
}

TEST_CASE("secrets and passwords in URLs are scrubbed from messages") {
  std::string msg = "failed to fetch https://bob:tok123@h.example/x.git: token tok123 rejected";
  std::string clean = gitpuller::scrub_secrets(msg, {"tok123"});
  CHECK(clean.find("tok123") == std::string::npos);
  CHECK(clean.find("bob") == std::string::npos);
  CHECK(clean.find("https://***@h.example/x.git") != std::string::npos);
  CHECK(gitpuller::url_under_prefix("https://h/a/b", "https://h/a/"));
  CHECK_FALSE(gitpuller::url_under_prefix("https://h/ab", "https://h/a/"));
}
