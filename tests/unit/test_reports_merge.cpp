// Store::import_run (what `v4eval merge` does per shard file) and the shard partition.

#include <sqlite3.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <set>

#include "harness/runner.h"
#include "reports/store.h"
#include "tests/unit/test_support.h"

using namespace v4eval;
namespace fs = std::filesystem;

namespace {

using v4eval::test::TempDir;
using v4eval::test::read_all;
using v4eval::test::write_all;

RunInfo run_named(const std::string& name) {
  RunInfo r;
  r.name = name;
  r.spec = {{"suites", {"mrcr:file=x"}}, {"repeats", 1}};
  r.backend = "replay:file=y";
  r.model = "m";
  r.started_at = now_iso8601();
  r.status = "complete";
  return r;
}

AttemptRecord attempt(const std::string& sample, std::optional<double> score, Mode mode = Mode::kNonThink) {
  AttemptRecord a;
  a.key = {"mrcr", sample, mode, 0};
  a.request_hash = "req-" + sample + std::string(mode_name(mode));
  a.prompt_hash = "prompt-" + sample;
  a.generation.text = "answer " + sample;
  a.tries = 1;
  if (score) {
    a.score = Score{*score, "partial", {{"ratio", *score}}};
  } else {
    a.error = "no recorded generation";
    a.error_stage = "generate";
  }
  return a;
}

}  // namespace

TEST_CASE("import_run copies attempts, prompts and the cache, idempotently", "[merge][store]") {
  TempDir dir;
  std::string shard_path = (dir.path / "shard.sqlite").string(), out_path = (dir.path / "out.sqlite").string();
  int64_t shard_run = 0;
  {
    auto shard = Store::open(shard_path);
    REQUIRE(shard.ok());
    auto run = (*shard)->create_run(run_named("r"));
    REQUIRE(run.ok());
    shard_run = run->id;
    for (int i = 0; i < 5; ++i) {
      Messages prompt{{"user", "question " + std::to_string(i)}};
      REQUIRE((*shard)->record_attempt(run->id, attempt(std::to_string(i), 0.1 * i), &prompt).ok());
    }
    Messages prompt{{"user", "question 9"}};
    REQUIRE((*shard)->record_attempt(run->id, attempt("9", std::nullopt), &prompt).ok());
  }
  auto out = Store::open(out_path);
  REQUIRE(out.ok());
  auto into = (*out)->create_run(run_named("r"));
  REQUIRE(into.ok());
  // An attempt already here: an error that the shard has graded, and one graded differently.
  Messages p3{{"user", "question 3"}};
  REQUIRE((*out)->record_attempt(into->id, attempt("9", std::nullopt), &p3).ok());
  REQUIRE((*out)->record_attempt(into->id, attempt("3", 0.99), &p3).ok());

  ShardRecord shard{1, 3, shard_path, "r", "complete", ""};
  auto counts = (*out)->import_run(shard_path, shard_run, into->id, shard);
  REQUIRE(counts.ok());
  CHECK(counts->added == 4);      // 0, 1, 2, 4
  CHECK(counts->unchanged == 2);  // 3 (graded here) and 9 (error there: not final)
  CHECK(counts->conflicts == 1);  // 3 graded with another score: kept
  CHECK(counts->prompts_added == 4);
  auto attempts = (*out)->attempts(into->id);
  REQUIRE(attempts.ok());
  CHECK(attempts->size() == 6);
  std::map<std::string, const AttemptRecord*> by;
  for (const auto& a : *attempts) by[a.key.sample_id] = &a;
  CHECK(by["3"]->score->value == 0.99);
  CHECK(by["2"]->score->value == Approx(0.2));
  CHECK(by["9"]->error == "no recorded generation");
  auto prompt = (*out)->prompt("prompt-4");
  REQUIRE(prompt.ok());
  REQUIRE(prompt->has_value());
  CHECK((**prompt)[0].content == "question 4");
  CHECK((*out)->cached_generation("req-2non-think")->has_value());
  auto shards = (*out)->run_shards(into->id);
  REQUIRE(shards.ok());
  REQUIRE(shards->size() == 1);
  CHECK((*shards)[0].shard_index == 1);
  CHECK((*shards)[0].shard_count == 3);

  // Again: nothing changes.
  auto again = (*out)->import_run(shard_path, shard_run, into->id, shard);
  REQUIRE(again.ok());
  CHECK(again->added == 0);
  CHECK(again->replaced == 0);
  CHECK((*out)->attempts(into->id)->size() == 6);
  CHECK((*out)->run_shards(into->id)->size() == 1);

  // A rerun of the shard that graded sample 9: the error here is replaced, tries not summed.
  {
    auto shard2 = Store::open(shard_path);
    REQUIRE(shard2.ok());
    Messages prompt{{"user", "question 9"}};
    REQUIRE((*shard2)->record_attempt(shard_run, attempt("9", 0.5), &prompt).ok());
  }
  auto fixed = (*out)->import_run(shard_path, shard_run, into->id, shard);
  REQUIRE(fixed.ok());
  CHECK(fixed->replaced == 1);
  auto nine = (*out)->attempt(into->id, {"mrcr", "9", Mode::kNonThink, 0});
  REQUIRE(nine.ok());
  CHECK((*nine)->score->value == 0.5);
  CHECK((*nine)->tries == 2);  // the shard's count: one failed call, one good one

}

TEST_CASE("an older database opens read-only without migrating", "[merge][store]") {
  TempDir dir;
  std::string path = (dir.path / "old.sqlite").string();
  {
    auto s = Store::open(path);
    REQUIRE(s.ok());
    REQUIRE((*s)->create_run(run_named("r")).ok());
  }
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_exec(db, "DROP TABLE run_shards; UPDATE schema_version SET version = 1", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  auto ro = Store::open(path, /*read_only=*/true);
  REQUIRE(ro.ok());
  CHECK((*ro)->runs()->size() == 1);
  CHECK((*ro)->run_shards(1)->empty());
  auto rw = Store::open(path);  // writing migrates
  REQUIRE(rw.ok());
  CHECK((*rw)->run_shards(1)->empty());
}

TEST_CASE("shards partition samples deterministically and evenly", "[merge][shard]") {
  std::map<int, int> sizes;
  std::set<std::string> seen;
  for (int i = 0; i < 3000; ++i) {
    std::string id = std::to_string(i);
    int s = shard_of("mrcr", id, 3);
    REQUIRE(s >= 0);
    REQUIRE(s < 3);
    CHECK(s == shard_of("mrcr", id, 3));  // same answer every time, on every machine
    ++sizes[s];
  }
  for (auto [s, n] : sizes) CHECK(std::abs(n - 1000) < 100);
  CHECK(shard_of("mrcr", "17", 1) == 0);
  // Pinned values (Python: int(sha256(b"mrcr\\n" + id).hexdigest()[:16], 16) % N): the partition
  // is a contract between machines running the same command, possibly different builds.
  CHECK(shard_of("mrcr", "0", 4) == 1);
  CHECK(shard_of("mrcr", "17", 4) == 0);
  CHECK(shard_of("mrcr", "abc", 3) == 1);
}
