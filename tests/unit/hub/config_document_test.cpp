#include <doctest/doctest.h>

#include <string>

#include "hub/config.hpp"
#include "hub/config_document.hpp"
#include "hub/config_value.hpp"

using hub::ConfigDocument;
using hub::ConfigValue;
using Map = ConfigValue::Map;
using List = ConfigValue::List;

namespace {

ConfigValue parse(const std::string& yaml) { return hub::parse_config_yaml(yaml, "test.yaml"); }

// Applies an edit and checks that the text parses back to what the value says.
ConfigDocument doc(const std::string& yaml) { return ConfigDocument(yaml, "config.yaml"); }

std::string error_of(ConfigDocument& d, void (*edit)(ConfigDocument&)) {
  std::string before = d.text();
  try {
    edit(d);
  } catch (const hub::ConfigError& e) {
    CHECK(d.text() == before);
    return e.what();
  }
  return "";
}

}  // namespace

// --- tljh-config's cases (tests/test_config.py), on text -------------------

TEST_CASE("set creates one level and nested levels") {
  auto d = doc("");
  d.set("a", "b");
  CHECK(d.text() == "a: b\n");
  d = doc("");
  d.set("a.b", "c");
  d.set("a.d", "e");
  d.set("f", "g");
  CHECK(d.text() == "a:\n  b: c\n  d: e\nf: g\n");
  CHECK(d.value() == parse("{a: {b: c, d: e}, f: g}"));
}

TEST_CASE("set is destructive: a value replaces a mapping and a mapping replaces a value") {
  auto d = doc("a: b\n");
  d.set("a", "c");
  CHECK(d.value() == parse("a: c"));
  d.set("a.b", "d");
  CHECK(d.value() == parse("a: {b: d}"));
  CHECK(d.text() == "a:\n  b: d\n");
  d.set("a", "hi");
  CHECK(d.value() == parse("a: hi"));
  CHECK(d.text() == "a: hi\n");
}

TEST_CASE("set refuses a list: lists change through add-item and remove-item") {
  auto d = doc("users:\n  admin:\n    - ann\n");
  std::string err = error_of(d, [](ConfigDocument& x) { x.set("users.admin", "bob"); });
  CHECK(err.find("users.admin is a list") != std::string::npos);
  CHECK(err.find("add-item") != std::string::npos);
}

TEST_CASE("unset removes one level, and mappings it leaves empty") {
  auto d = doc("a:\n  b: c\n  d: e\nf: g\n");
  d.unset("a.b");
  CHECK(d.text() == "a:\n  d: e\nf: g\n");
  d.unset("a.d");
  CHECK(d.text() == "f: g\n");
  d.unset("f");
  CHECK(d.text() == "");
  CHECK(d.value() == ConfigValue::empty_map());

  auto deep = doc("a:\n  b:\n    c:\n      d:\n        e: f\n");
  deep.unset("a.b.c.d.e");
  CHECK(deep.value() == ConfigValue::empty_map());
  CHECK(deep.text() == "");
}

TEST_CASE("unset of a key that is not there is an error and changes nothing") {
  auto empty = doc("");
  CHECK(error_of(empty, [](ConfigDocument& x) { x.unset("a"); }).find("a is not set") != std::string::npos);
  auto one = doc("a: b\n");
  CHECK(error_of(one, [](ConfigDocument& x) { x.unset("b"); }).find("b is not set") != std::string::npos);
  auto nested = doc("a:\n  b: c\n");
  CHECK(error_of(nested, [](ConfigDocument& x) { x.unset("a.z"); }).find("a.z is not set") != std::string::npos);
  auto through_scalar = doc("a: b\n");
  CHECK(!error_of(through_scalar, [](ConfigDocument& x) { x.unset("a.b"); }).empty());
}

TEST_CASE("add-item creates lists at any depth and appends") {
  auto d = doc("");
  d.add_item("a", "b");
  CHECK(d.value() == parse("a: [b]"));
  d = doc("");
  d.add_item("a.b", "c");
  CHECK(d.value() == parse("a: {b: [c]}"));
  d = doc("");
  d.add_item("a.b.c", "d");
  d.add_item("a.b.c", "e");
  CHECK(d.value() == parse("a: {b: {c: [d, e]}}"));
  CHECK(d.text() == "a:\n  b:\n    c:\n      - d\n      - e\n");
}

TEST_CASE("add-item replaces a non-list at the key with a list") {
  auto d = doc("a: 5\n");
  d.add_item("a", "x");
  CHECK(d.value() == parse("a: [x]"));
  auto through = doc("a: 5\n");
  through.add_item("a.b", "x");
  CHECK(through.value() == parse("a: {b: [x]}"));
}

TEST_CASE("remove-item removes the first equal item and keeps an emptied list") {
  auto d = doc("");
  d.add_item("a.b.c", "d");
  d.add_item("a.b.c", "e");
  d.remove_item("a.b.c", "e");
  CHECK(d.value() == parse("a: {b: {c: [d]}}"));
  d.remove_item("a.b.c", "d");
  CHECK(d.value() == parse("a: {b: {c: []}}"));
  CHECK(d.text() == "a:\n  b:\n    c: []\n");
  d.add_item("a.b.c", "again");
  CHECK(d.value() == parse("a: {b: {c: [again]}}"));

  auto ints = doc("foo:\n  bar:\n  - 1\n  - 2\n");
  ints.remove_item("foo.bar", hub::parse_cli_value("1"));
  CHECK(ints.value() == parse("foo: {bar: [2]}"));
}

TEST_CASE("remove-item errors: no such key, not a list, no such item") {
  auto empty = doc("");
  CHECK(error_of(empty, [](ConfigDocument& x) { x.remove_item("a.b.c", "e"); }).find("not set") !=
        std::string::npos);
  auto scalar = doc("a: b\n");
  CHECK(!error_of(scalar, [](ConfigDocument& x) { x.remove_item("a.b", "e"); }).empty());
  auto not_list = doc("a: b\n");
  CHECK(error_of(not_list, [](ConfigDocument& x) { x.remove_item("a", "e"); }).find("a is not a list") !=
        std::string::npos);
  auto missing_item = doc("a:\n- b\n");
  CHECK(error_of(missing_item, [](ConfigDocument& x) { x.remove_item("a", "e"); }).find("e is not in the list a") !=
        std::string::npos);
}

TEST_CASE("command-line values are typed as tljh-config types them") {
  CHECK(hub::parse_cli_value("1") == ConfigValue(std::int64_t{1}));
  CHECK(hub::parse_cli_value("1.25") == ConfigValue(1.25));
  CHECK(hub::parse_cli_value("1.") == ConfigValue(1.0));
  CHECK(hub::parse_cli_value("x") == ConfigValue("x"));
  CHECK(hub::parse_cli_value("1x") == ConfigValue("1x"));
  CHECK(hub::parse_cli_value("1.2x") == ConfigValue("1.2x"));
  CHECK(hub::parse_cli_value("None").is_null());
  CHECK(hub::parse_cli_value("none").is_null());
  CHECK(hub::parse_cli_value("NONE").is_null());
  CHECK(hub::parse_cli_value("") == ConfigValue(""));
  CHECK(hub::parse_cli_value("true") == ConfigValue(true));
  CHECK(hub::parse_cli_value("FALSE") == ConfigValue(false));
  CHECK(hub::parse_cli_value("TrUe") == ConfigValue(true));
  CHECK(hub::parse_cli_value("-1") == ConfigValue("-1"));
  CHECK(hub::parse_cli_value(".5") == ConfigValue(".5"));
  CHECK(hub::parse_cli_value("99999999999999999999999") == ConfigValue("99999999999999999999999"));
}

// --- what the admin wrote survives ----------------------------------------

const char* kCommented = R"(# Hub configuration for the autumn course.
# Ask Sam before changing anything.

base_url: /course/   # behind nginx

auth:
  type: native  # students sign up
  native:
    # Approve by hand.
    open_signup: false

users:
  # Teachers
  admin:
    - sam      # lead
    - 'kim'
    # - lee (on leave)

services:
  cull:
    timeout: 3600   # an hour
    every: 60
)";

TEST_CASE("set keeps every other line, the comments and the comment on the changed line") {
  auto d = doc(kCommented);
  d.set("services.cull.timeout", 7200);
  std::string expected = kCommented;
  expected.replace(expected.find("timeout: 3600"), 13, "timeout: 7200");
  CHECK(d.text() == expected);

  d.set("auth.native.open_signup", true);
  expected.replace(expected.find("open_signup: false"), 18, "open_signup: true");
  CHECK(d.text() == expected);

  d.set("base_url", "/autumn/");
  expected.replace(expected.find("base_url: /course/"), 18, "base_url: /autumn/");
  CHECK(d.text() == expected);
}

TEST_CASE("a new key goes into its section, after the last key there") {
  auto d = doc(kCommented);
  d.set("auth.native.minimum_password_length", 10);
  std::string text = d.text();
  CHECK(text.find("    open_signup: false\n    minimum_password_length: 10\n\nusers:") != std::string::npos);
  d.set("services.cull.users", true);
  CHECK(d.text().find("    every: 60\n    users: true\n") != std::string::npos);
  d.set("http.port", 8080);
  CHECK(d.text().size() > text.size());
  CHECK(d.text().ends_with("\n    every: 60\n    users: true\nhttp:\n  port: 8080\n"));
  // All original comments are still there.
  for (const char* c : {"# Hub configuration", "# Ask Sam", "# behind nginx", "# students sign up", "# Approve by hand.",
                        "# Teachers", "# lead", "# - lee (on leave)", "# an hour"})
    CHECK(d.text().find(c) != std::string::npos);
}

TEST_CASE("add-item and remove-item touch only the item's line") {
  auto d = doc(kCommented);
  d.add_item("users.admin", "lee");
  std::string text = d.text();
  CHECK(text.find("    - 'kim'\n    - lee\n    # - lee (on leave)\n") != std::string::npos);
  d.remove_item("users.admin", "kim");
  CHECK(d.text().find("    - sam      # lead\n    - lee\n") != std::string::npos);
  d.remove_item("users.admin", "lee");
  d.remove_item("users.admin", "sam");
  CHECK(d.text().find("  admin: []\n") != std::string::npos);
  CHECK(d.text().find("# Teachers") != std::string::npos);
}

TEST_CASE("unset keeps comments outside the removed key") {
  auto d = doc(kCommented);
  d.unset("auth.native.open_signup");
  CHECK(d.text().find("native:") == std::string::npos);
  CHECK(d.text().find("  type: native  # students sign up\n") != std::string::npos);
  CHECK(d.text().find("# Hub configuration") != std::string::npos);
  d.unset("services.cull.timeout");
  CHECK(d.text().find("services:\n  cull:\n    every: 60\n") != std::string::npos);
}

TEST_CASE("the file's own indentation and list style are followed") {
  auto four = doc("auth:\n    type: native\nusers:\n- x\n");
  four.set("auth.native.open_signup", true);
  CHECK(four.text() == "auth:\n    type: native\n    native:\n        open_signup: true\nusers:\n- x\n");
  auto flush = doc("users:\n  admin:\n  - ann\n");
  flush.add_item("users.banned", "eve");
  CHECK(flush.text() == "users:\n  admin:\n  - ann\n  banned:\n  - eve\n");
}

TEST_CASE("windows line ends, a missing last newline and a byte-order mark are kept") {
  auto crlf = doc("a: 1\r\nb:\r\n  c: 2\r\n");
  crlf.set("b.d", 3);
  CHECK(crlf.text() == "a: 1\r\nb:\r\n  c: 2\r\n  d: 3\r\n");
  auto no_newline = doc("a: 1");
  no_newline.set("a", 2);
  CHECK(no_newline.text() == "a: 2");
  auto bom = doc("\xEF\xBB\xBF" "a: 1\n");
  bom.set("b", 2);
  CHECK(bom.text() == "\xEF\xBB\xBF" "a: 1\nb: 2\n");
}

TEST_CASE("a flow-style value the change must reach into is rewritten in block style, alone") {
  auto flow = doc("# users\nusers: {admin: [ann], banned: [eve]}  # compact\nhttp:\n  port: 80  # web\n");
  flow.add_item("users.admin", "bob");
  CHECK(flow.text() ==
        "# users\nusers:  # compact\n  admin:\n    - ann\n    - bob\n  banned:\n    - eve\nhttp:\n  port: 80  # web\n");

  auto flow_list = doc("users:\n  admin: [ann, 'bob']   # two\n  allowed: [x]\n");
  flow_list.remove_item("users.admin", "ann");
  CHECK(flow_list.text() == "users:\n  admin:   # two\n    - bob\n  allowed: [x]\n");
  flow_list.unset("users.allowed");
  CHECK(flow_list.text() == "users:\n  admin:   # two\n    - bob\n");

  // Setting a whole flow value replaces it; other keys' flow style stays.
  auto whole = doc("a: {b: 1}\nc: [1, 2]\n");
  whole.set("a", "x");
  CHECK(whole.text() == "a: x\nc: [1, 2]\n");

  // Unset inside a flow mapping that it empties prunes it like any mapping.
  auto pruned = doc("keep: 1\na: {b: {c: 1}}\n");
  pruned.unset("a.b.c");
  CHECK(pruned.text() == "keep: 1\n");
}

TEST_CASE("a JSON config file is edited, and turns into block YAML") {
  auto json = doc("{\n  \"users\": {\"admin\": [\"boss\"]},\n  \"http\": {\"port\": 8000}\n}\n");
  json.add_item("users.admin", "ann");
  CHECK(json.text() == "users:\n  admin:\n    - boss\n    - ann\nhttp:\n  port: 8000\n");
  auto json2 = doc("# generated\n{\"http\": {\"port\": 8000}}\n");
  json2.set("http.port", 9000);
  CHECK(json2.text() == "# generated\nhttp:\n  port: 9000\n");
  json2 = doc("{\"http\": {\"port\": 8000}}\n");
  json2.unset("http.port");
  CHECK(json2.text() == "{}\n");
}

TEST_CASE("what cannot be rewritten without loss is refused, with the file unchanged") {
  auto commented_flow = doc("users: {\n  admin: [ann],  # the boss\n  banned: []\n}\n");
  std::string err = error_of(commented_flow, [](ConfigDocument& x) { x.add_item("users.admin", "bob"); });
  CHECK(err.find("holds comments") != std::string::npos);
  CHECK(err.find("left unchanged") != std::string::npos);
  auto root_commented = doc("{a: 1,  # one\n b: 2}\n");
  CHECK(error_of(root_commented, [](ConfigDocument& x) { x.set("c", 3); }).find("holds comments") != std::string::npos);

  auto anchors = doc("users:\n  admin: &t [ann]\n  allowed: *t\n");
  CHECK(error_of(anchors, [](ConfigDocument& x) { x.set("http.port", 1); }).find("anchors") != std::string::npos);

  auto complex_key = doc("? a\n: 1\n");
  CHECK(!error_of(complex_key, [](ConfigDocument& x) { x.set("a", 2); }).empty());
}

TEST_CASE("empty flow collections are filled in block style") {
  auto d = doc("{}\n");
  d.set("a.b", 1);
  CHECK(d.text() == "a:\n  b: 1\n");
  auto l = doc("users:\n  admin: []  # none yet\n");
  l.add_item("users.admin", "ann");
  CHECK(l.text() == "users:\n  admin:  # none yet\n    - ann\n");
}

TEST_CASE("a value written over several lines is replaced whole") {
  auto d = doc("motd: |\n  line one\n  line two\nb: 1\n");
  d.set("motd", "short");
  CHECK(d.text() == "motd: short\nb: 1\n");
  auto folded = doc("a: this is\n  folded text\nb: 1\n");
  folded.set("a", "x");
  CHECK(folded.text() == "a: x\nb: 1\n");
}

TEST_CASE("hostile values round-trip exactly through the file") {
  std::string long_value(20000, 'x');
  long_value += ": # \" ' \\ end";
  for (const std::string& v :
       {std::string("héllo wörld ✓ 日本語"), std::string("it's \"quoted\""), std::string("a: b"),
        std::string("a #not a comment"), std::string("#start"), std::string("trailing "), std::string(" leading"),
        std::string("true"), std::string("null"), std::string("~"), std::string("123"), std::string("1.5"),
        std::string(""), std::string("back\\slash"), std::string("line\nbreak"), std::string("tab\there"),
        std::string("- dash"), std::string("[flow]"), std::string("{flow}"), std::string("*star"),
        std::string("&amp"), std::string("!tag"), std::string("%pct"), std::string("@at"), std::string("`tick`"),
        std::string("|pipe"), std::string(">gt"), std::string("---"), std::string("..."),
        std::string("sep\xE2\x80\xA8" "arator"), std::string("\xEF\xBB\xBF" "bom"), std::string("nul\x01" "ctl"),
        long_value}) {
    CAPTURE(v);
    auto d = doc("# keep me\nx: 1  # and me\n");
    d.set("x", v);
    CHECK(d.value().find("x")->as_string() == v);
    ConfigDocument reread(d.text(), "again");
    CHECK(reread.value().find("x")->as_string() == v);
    CHECK(d.text().rfind("# keep me\nx: ", 0) == 0);
    CHECK(d.text().find("  # and me\n") != std::string::npos);
    d.add_item("l", v);
    CHECK(ConfigDocument(d.text(), "again").value().find("l")->as_list().at(0).as_string() == v);
    d.remove_item("l", v);
    CHECK(d.value().find("l")->as_list().empty());
  }
}

TEST_CASE("keys that need quoting are quoted") {
  auto d = doc("");
  d.set("users.extra_user_groups.my group", "x");
  CHECK(d.value().find_path("users.extra_user_groups")->find("my group")->as_string() == "x");
  d.set("true", 1);
  CHECK(d.text().find("\"true\": 1") != std::string::npos);
}

TEST_CASE("invalid UTF-8 in a value is refused") {
  auto d = doc("");
  std::string bad = "\xC3\x28";
  CHECK_THROWS_AS(d.set("x", bad), hub::ConfigError);
  CHECK(d.text().empty());
}

TEST_CASE("a file that is not YAML cannot be opened for editing") {
  CHECK_THROWS_AS(doc("a: [1\nb: 2\n"), hub::ConfigError);
  CHECK_THROWS_AS(doc("- a\n- b\n"), hub::ConfigError);
}

TEST_CASE("random edits of a commented file always mean what tljh-config's semantics say") {
  // A deterministic walk through many edits: every one the value semantics
  // allow must succeed on the text and re-read as the same value; every one
  // they refuse must be refused with the text untouched.
  const std::vector<std::string> keys = {"a", "a.b", "a.c", "a.b.c", "d", "d.e", "d.e.f", "g"};
  const std::vector<std::string> values = {"x", "1", "true", "it's: #odd", "", "none", "2.5"};
  unsigned state = 12345;
  auto next = [&](std::size_t n) {
    state = state * 1103515245u + 12345u;
    return static_cast<std::size_t>((state >> 16) % n);
  };
  int applied = 0;
  for (const char* start :
       {"# head\n\na:   # the a section\n  # inside\n  b: 1  # one\n\n# between\nd:\n- 1\n- 2  # two\n# tail\n",
        "# head\r\na:\r\n    b:\r\n        c: 'q'\r\n# between\r\nd:\r\n    - 1\r\n# tail\r\n",
        "---\n# head\na: {}\n# between\nd: []   # empty\n# tail\n...\n",
        "# head\n{a: {b: 1, c: [x, {y: 1}]}, d: [1, 2]}\n# between\n# tail\n",
        "# head\na: {b: {c: 1}, 'd': [1, 2]}   # flow\n# between\nd:\n    [1,\n     2]\n# tail\n"}) {
  auto d = doc(start);
  for (int step = 0; step < 1500; ++step) {
    const std::string& key = keys[next(keys.size())];
    ConfigValue v = hub::parse_cli_value(values[next(values.size())]);
    int op = static_cast<int>(next(4));
    auto path = hub::split_key_path(key);
    CAPTURE(step);
    CAPTURE(key);
    CAPTURE(op);
    CAPTURE(d.text());
    std::optional<ConfigValue> expected;
    try {
      if (op == 0) expected = hub::set_config_item(d.value(), path, v);
      if (op == 1) expected = hub::unset_config_item(d.value(), path);
      if (op == 2) expected = hub::add_config_item(d.value(), path, v);
      if (op == 3) expected = hub::remove_config_item(d.value(), path, v);
    } catch (const hub::ConfigError&) {
    }
    std::string before = d.text();
    try {
      if (op == 0) d.set(key, v);
      if (op == 1) d.unset(key);
      if (op == 2) d.add_item(key, v);
      if (op == 3) d.remove_item(key, v);
      REQUIRE(expected.has_value());
      REQUIRE(d.value() == *expected);
      REQUIRE(ConfigDocument(d.text(), "again").value() == *expected);
      ++applied;
    } catch (const hub::ConfigError& e) {
      CAPTURE(e.what());
      REQUIRE_FALSE(expected.has_value());
      REQUIRE(d.text() == before);
    }
    for (const char* comment : {"# head", "# between", "# tail"}) REQUIRE(d.text().find(comment) != std::string::npos);
  }
  }
  CHECK(applied > 3500);
}
