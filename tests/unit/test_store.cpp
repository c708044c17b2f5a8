#include <sqlite3.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "reports/store.h"
#include "tests/unit/test_support.h"

using namespace v4eval;
namespace fs = std::filesystem;

namespace {

using v4eval::test::TempDir;
using v4eval::test::read_all;
using v4eval::test::write_all;

RunInfo new_run(const std::string& name) {
  RunInfo r;
  r.name = name;
  r.spec = {{"suites", {"mrcr:file=x"}}, {"repeats", 1}};
  r.backend = "replay:file=y";
  r.model = "m";
  r.started_at = now_iso8601();
  r.status = "running";
  return r;
}

AttemptRecord graded(const std::string& sample, double score) {
  AttemptRecord a;
  a.key = {"mrcr", sample, Mode::kNonThink, 0};
  a.request_hash = "req-" + sample;
  a.prompt_hash = "p-" + sample;
  a.generation.text = "answer " + sample;
  a.generation.finish_reason = "stop";
  a.score = Score{score, "partial", {{"ratio", score}}};
  a.tries = 1;
  return a;
}

}  // namespace

TEST_CASE("store: runs, attempts, prompts and cache round-trip", "[store]") {
  TempDir dir;
  std::string path = (dir.path / "s.sqlite").string();
  auto store = Store::open(path);
  REQUIRE(store.ok());
  auto run = (*store)->create_run(new_run("r1"));
  REQUIRE(run.ok());
  CHECK(run->id > 0);
  CHECK_FALSE((*store)->create_run(new_run("r1")).ok());  // names are unique

  Messages prompt{{"user", "hello ünïcode"}, {"assistant", std::string(100000, 'x')}};
  auto a = graded("0", 0.75);
  a.generation.reasoning = "thinking";
  a.generation.prompt_tokens = 12;
  a.generation.effective_mode = Mode::kThinkHigh;
  REQUIRE((*store)->record_attempt(run->id, a, &prompt).ok());

  auto back = (*store)->attempt(run->id, a.key);
  REQUIRE(back.ok());
  REQUIRE(back->has_value());
  CHECK((*back)->generation.text == "answer 0");
  CHECK((*back)->generation.reasoning == "thinking");
  CHECK((*back)->generation.prompt_tokens == 12);
  CHECK((*back)->generation.effective_mode == Mode::kThinkHigh);
  CHECK((*back)->score->value == 0.75);
  CHECK((*back)->score->details["ratio"] == 0.75);

  auto p = (*store)->prompt("p-0");
  REQUIRE(p.ok());
  REQUIRE(p->has_value());
  CHECK((**p)[0].content == "hello ünïcode");
  CHECK((**p)[1].content.size() == 100000);

  auto cached = (*store)->cached_generation("req-0");
  REQUIRE(cached.ok());
  REQUIRE(cached->has_value());
  CHECK((*cached)->text == "answer 0");

  auto keys = (*store)->graded_keys(run->id);
  REQUIRE(keys.ok());
  REQUIRE(keys->size() == 1);
  CHECK(keys->front() == a.key);
}

TEST_CASE("store: a generation with invalid UTF-8 is stored, not thrown on", "[store]") {
  // A model can emit any bytes (the tiny random V4 model does); JSON columns get U+FFFD.
  TempDir dir;
  auto store = Store::open((dir.path / "s.sqlite").string());
  REQUIRE(store.ok());
  auto run = (*store)->create_run(new_run("bad-bytes"));
  REQUIRE(run.ok());
  const std::string bad = std::string("ok \xff\xfe end \xe2\x82");  // stray + truncated sequence
  auto a = graded("0", 0.5);
  a.generation.text = bad;
  a.score->details["extracted"] = bad;
  Messages prompt{{"user", "q \xc3"}};
  Status stored;
  REQUIRE_NOTHROW(stored = (*store)->record_attempt(run->id, a, &prompt));
  REQUIRE(stored.ok());
  auto back = (*store)->attempt(run->id, a.key);
  REQUIRE(back.ok());
  REQUIRE(back->has_value());
  CHECK((*back)->generation.text == bad);  // the text column keeps the bytes
  CHECK((*back)->score->details["extracted"] == "ok \xef\xbf\xbd\xef\xbf\xbd end \xef\xbf\xbd");
  auto cached = (*store)->cached_generation("req-0");
  REQUIRE(cached.ok());
  REQUIRE(cached->has_value());
  CHECK((*cached)->text == "ok \xef\xbf\xbd\xef\xbf\xbd end \xef\xbf\xbd");
}

TEST_CASE("store: an error attempt is replaced by its retry, a graded one never", "[store]") {
  TempDir dir;
  auto store = Store::open((dir.path / "s.sqlite").string());
  REQUIRE(store.ok());
  auto run = (*store)->create_run(new_run("r"));
  REQUIRE(run.ok());
  AttemptRecord err;
  err.key = {"mrcr", "1", Mode::kNonThink, 0};
  err.request_hash = "req-1";
  err.prompt_hash = "p-1";
  err.error = "HTTP 503";
  err.error_stage = "generate";
  err.generation.error = GenerationError{ErrorKind::kRetryable, "HTTP 503", std::nullopt};
  err.tries = 5;
  REQUIRE((*store)->record_attempt(run->id, err, nullptr).ok());
  CHECK((*store)->graded_keys(run->id)->empty());
  CHECK_FALSE((*store)->cached_generation("req-1")->has_value());  // errors are not cached

  REQUIRE((*store)->record_attempt(run->id, graded("1", 0.5), nullptr).ok());
  auto after = (*store)->attempt(run->id, err.key);
  CHECK((*after)->error.empty());
  CHECK((*after)->score->value == 0.5);
  CHECK((*after)->tries == 6);  // tries accumulate across resumes

  // A second graded record for the same key changes nothing.
  REQUIRE((*store)->record_attempt(run->id, graded("1", 0.9), nullptr).ok());
  CHECK((*(*store)->attempt(run->id, err.key))->score->value == 0.5);
  CHECK((*store)->attempts(run->id)->size() == 1);
}

TEST_CASE("store: metrics replace per suite and mode", "[store]") {
  TempDir dir;
  auto store = Store::open((dir.path / "s.sqlite").string());
  auto run = (*store)->create_run(new_run("r"));
  REQUIRE((*store)->replace_metrics(run->id, "mrcr", Mode::kNonThink, {{"score", 0.5, 0.4, 0.6, 10}}).ok());
  REQUIRE((*store)->replace_metrics(run->id, "mrcr", Mode::kNonThink, {{"score", 0.7, 0.6, 0.8, 11}}).ok());
  auto m = (*store)->metrics(run->id);
  REQUIRE(m->size() == 1);
  CHECK(m->front().metric.value == 0.7);
  CHECK(m->front().metric.n == 11);
}

TEST_CASE("store: bad files give clear errors", "[store]") {
  TempDir dir;
  SECTION("not a database") {
    std::string path = (dir.path / "junk.sqlite").string();
    std::ofstream(path) << std::string(4096, 'j');
    auto s = Store::open(path);
    REQUIRE_FALSE(s.ok());
    CHECK(s.status().message().find(path) != std::string::npos);
    CHECK(s.status().message().find("not a v4eval database") != std::string::npos);
  }
  SECTION("directory does not exist") {
    auto s = Store::open((dir.path / "no/such/dir/x.sqlite").string());
    REQUIRE_FALSE(s.ok());
    CHECK(s.status().message().find("cannot open database") != std::string::npos);
  }
  SECTION("written by a newer schema") {
    std::string path = (dir.path / "new.sqlite").string();
    REQUIRE(Store::open(path).ok());
    sqlite3* db;
    sqlite3_open(path.c_str(), &db);
    sqlite3_exec(db, "UPDATE schema_version SET version = 999", nullptr, nullptr, nullptr);
    sqlite3_close(db);
    auto s = Store::open(path);
    REQUIRE_FALSE(s.ok());
    CHECK(s.status().message().find("newer v4eval") != std::string::npos);
  }
  SECTION("locked by another writer") {
    std::string path = (dir.path / "locked.sqlite").string();
    auto store = Store::open(path, false, /*busy_timeout_ms=*/200);
    REQUIRE(store.ok());
    auto run = (*store)->create_run(new_run("r"));
    sqlite3* db;
    sqlite3_open(path.c_str(), &db);
    REQUIRE(sqlite3_exec(db, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr) == SQLITE_OK);
    // The store waits (busy timeout) and then names the cause; here it must fail, not hang.
    sqlite3_busy_timeout(db, 0);
    auto t0 = std::chrono::steady_clock::now();
    Status st = (*store)->record_attempt(run->id, graded("0", 1.0), nullptr);
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close(db);
    REQUIRE_FALSE(st.ok());
    CHECK(st.message().find("another process holds a lock") != std::string::npos);
    (void)t0;
    // After the lock is gone the same write succeeds: nothing was half-written.
    REQUIRE((*store)->record_attempt(run->id, graded("0", 1.0), nullptr).ok());
    CHECK((*store)->attempts(run->id)->size() == 1);
  }
}
