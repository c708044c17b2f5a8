#pragma once
// The SQLite store: runs, attempts, metrics, prompts and the response cache in one file
// (architecture.md, "Store"). WAL mode; every finished attempt is one transaction, so a kill -9
// loses at most the attempts in flight and never leaves a half-written one.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "harness/status.h"
#include "harness/types.h"

namespace v4eval {

struct RunInfo {
  int64_t id = 0;
  std::string name;
  Json spec = Json::object();       // the settings that define the run (compared on resume)
  Json suite_versions = Json::object();  // suite -> {"version", "data_hash"}
  std::string backend;              // backend spec without secrets
  std::string model;
  std::string git_revision;
  std::string host;
  std::string started_at;           // ISO-8601 UTC
  std::string finished_at;          // empty while running
  std::string status;               // running | complete | incomplete | interrupted
};

struct AttemptKey {
  std::string suite;
  std::string sample_id;
  Mode mode = Mode::kNonThink;
  int repeat = 0;
  auto operator<=>(const AttemptKey&) const = default;
};

struct AttemptRecord {
  AttemptKey key;
  std::string request_hash;  // also the response-cache key
  std::string prompt_hash;   // into the prompts table
  Generation generation;
  std::optional<Score> score;  // absent for an error attempt
  std::string error;           // empty when graded; else why not (retried on resume)
  // "generate" | "grade" | "timeout" | "" (graded) | "skipped" (not sent, with `error` as the
  // reason; final like a graded attempt, and never counted as an error or a score)
  std::string error_stage;
  int tries = 0;               // backend calls made for this attempt
  std::string finished_at;
};

// One shard merged into a run (`v4eval merge`): which slice, from where, in what state.
struct ShardRecord {
  int shard_index = 0;       // I of I/N
  int shard_count = 1;       // N
  std::string source;        // the shard's database file
  std::string source_run;    // the run's name there
  std::string source_status; // its status there (complete | incomplete | interrupted | running)
  std::string merged_at;     // ISO-8601 UTC
};

// What one import changed.
struct ImportCounts {
  int64_t added = 0;      // attempts new to the run
  int64_t replaced = 0;   // error attempts here replaced by graded (or skipped) ones
  int64_t unchanged = 0;  // already here (a graded attempt is never replaced)
  int64_t conflicts = 0;  // graded in both with a different score: the one here is kept
  int64_t prompts_added = 0;
};

struct StoredMetric {
  std::string suite;
  Mode mode = Mode::kNonThink;
  Metric metric;
};

class Store {
 public:
  // Opens (creating if absent, unless read_only) and migrates the schema. Errors name the file:
  // unreadable, not a database, locked by another writer, written by a newer v4eval.
  // A write that finds the file locked waits up to busy_timeout_ms, then fails naming the cause.
  static Result<std::unique_ptr<Store>> open(const std::string& path, bool read_only = false,
                                             int busy_timeout_ms = 10000);

  virtual ~Store() = default;

  virtual const std::string& path() const = 0;

  // Runs. Names are unique within a file.
  virtual Result<std::optional<RunInfo>> find_run(const std::string& name) = 0;
  virtual Result<std::optional<RunInfo>> find_run(int64_t id) = 0;
  virtual Result<std::vector<RunInfo>> runs() = 0;
  virtual Result<RunInfo> create_run(RunInfo run) = 0;  // fills id
  virtual Status update_run(const RunInfo& run) = 0;    // status, finished_at, suite_versions

  // Keys of attempts that are done: graded or skipped (error attempts are redone).
  virtual Result<std::vector<AttemptKey>> graded_keys(int64_t run_id) = 0;

  // Stores one finished attempt in one transaction, with its prompt (once per hash) and, if
  // it has a usable generation, the response cache entry. Replaces an earlier error attempt
  // for the same key; a graded attempt is never replaced (returns ok, stores nothing).
  // Thread-safe.
  virtual Status record_attempt(int64_t run_id, const AttemptRecord& attempt,
                                const Messages* prompt) = 0;

  // Attempts of a run (all suites when `suite` is empty), ordered by suite, sample, mode, repeat.
  virtual Result<std::vector<AttemptRecord>> attempts(int64_t run_id,
                                                      const std::string& suite = "") = 0;
  virtual Result<std::optional<AttemptRecord>> attempt(int64_t run_id, const AttemptKey& key) = 0;
  virtual Result<std::optional<Messages>> prompt(const std::string& prompt_hash) = 0;

  // Response cache: request hash -> generation, so re-grading never asks the model again.
  virtual Result<std::optional<Generation>> cached_generation(const std::string& request_hash) = 0;
  // Adds a cache entry outside an attempt (judge calls). Thread-safe; an existing entry stays.
  virtual Status cache_generation(const std::string& request_hash, const Generation& g) = 0;

  virtual Status replace_metrics(int64_t run_id, const std::string& suite, Mode mode,
                                 const std::vector<Metric>& metrics) = 0;
  virtual Result<std::vector<StoredMetric>> metrics(int64_t run_id) = 0;

  // Copies run `source_run_id` of the v4eval database at `source_path` into run `into_run_id`
  // of this one, in one transaction: its attempts (with record_attempt's rule: a graded or
  // skipped attempt here is final, an error attempt here is replaced by a final one there), the
  // prompts and response-cache entries they use, and `shard` in the run's shard list. Running
  // it again with the same source changes nothing, so a merge killed half-way is simply rerun.
  virtual Result<ImportCounts> import_run(const std::string& source_path, int64_t source_run_id,
                                          int64_t into_run_id, const ShardRecord& shard) = 0;
  // Shards merged into a run, by index (empty for a run that was never merged into).
  virtual Result<std::vector<ShardRecord>> run_shards(int64_t run_id) = 0;

  // Schema version this build writes.
  static int schema_version();
};

std::string now_iso8601();

}  // namespace v4eval
