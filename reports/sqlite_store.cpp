// SQLite implementation of the Store (reports/store.h).

#include <sqlite3.h>
#include <zlib.h>

#include <ctime>
#include <mutex>
#include <set>

#include "reports/store.h"

namespace v4eval {
namespace {

constexpr int kSchemaVersion = 2;

// Migration i brings the schema from version i to i+1. Append only; never edit a shipped one.
const char* const kMigrations[] = {
    R"sql(
CREATE TABLE runs (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  spec TEXT NOT NULL,
  suite_versions TEXT NOT NULL,
  backend TEXT NOT NULL,
  model TEXT NOT NULL,
  git_revision TEXT NOT NULL,
  host TEXT NOT NULL,
  started_at TEXT NOT NULL,
  finished_at TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL
);
CREATE TABLE attempts (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs(id),
  suite TEXT NOT NULL,
  sample_id TEXT NOT NULL,
  mode TEXT NOT NULL,
  repeat INTEGER NOT NULL,
  request_hash TEXT NOT NULL,
  prompt_hash TEXT NOT NULL,
  text TEXT,
  reasoning TEXT,
  finish_reason TEXT,
  effective_mode TEXT,
  prompt_tokens INTEGER,
  completion_tokens INTEGER,
  reasoning_tokens INTEGER,
  latency_ms REAL,
  ttft_ms REAL,
  score REAL,
  verdict TEXT,
  details TEXT,
  error TEXT NOT NULL DEFAULT '',
  error_stage TEXT NOT NULL DEFAULT '',
  tries INTEGER NOT NULL,
  finished_at TEXT NOT NULL,
  UNIQUE (run_id, suite, sample_id, mode, repeat)
);
CREATE INDEX attempts_by_run_suite_mode ON attempts (run_id, suite, mode);
CREATE INDEX attempts_errors ON attempts (run_id) WHERE error != '';
CREATE TABLE metrics (
  run_id INTEGER NOT NULL REFERENCES runs(id),
  suite TEXT NOT NULL,
  mode TEXT NOT NULL,
  name TEXT NOT NULL,
  value REAL NOT NULL,
  ci_low REAL NOT NULL,
  ci_high REAL NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY (run_id, suite, mode, name)
);
CREATE TABLE prompts (
  hash TEXT PRIMARY KEY,
  raw_bytes INTEGER NOT NULL,
  messages_zlib BLOB NOT NULL
);
CREATE TABLE response_cache (
  request_hash TEXT PRIMARY KEY,
  generation TEXT NOT NULL,
  created_at TEXT NOT NULL
);
)sql",
    // 1 -> 2: shards merged into a run (`v4eval merge`).
    R"sql(
CREATE TABLE run_shards (
  run_id INTEGER NOT NULL REFERENCES runs(id),
  shard_index INTEGER NOT NULL,
  shard_count INTEGER NOT NULL,
  source TEXT NOT NULL,
  source_run TEXT NOT NULL,
  source_status TEXT NOT NULL,
  merged_at TEXT NOT NULL,
  PRIMARY KEY (run_id, shard_index, shard_count)
);
)sql",
};
static_assert(std::size(kMigrations) == kSchemaVersion);

Json generation_to_json(const Generation& g) {
  Json j = {{"text", g.text},
            {"reasoning", g.reasoning},
            {"finish_reason", g.finish_reason},
            {"prompt_tokens", g.prompt_tokens},
            {"completion_tokens", g.completion_tokens},
            {"reasoning_tokens", g.reasoning_tokens},
            {"latency_ms", g.latency_ms},
            {"ttft_ms", g.time_to_first_token_ms}};
  if (g.effective_mode) j["effective_mode"] = mode_name(*g.effective_mode);
  return j;
}

Generation generation_from_json(const Json& j) {
  Generation g;
  g.text = j.value("text", "");
  g.reasoning = j.value("reasoning", "");
  g.finish_reason = j.value("finish_reason", "");
  g.prompt_tokens = j.value("prompt_tokens", int64_t{-1});
  g.completion_tokens = j.value("completion_tokens", int64_t{-1});
  g.reasoning_tokens = j.value("reasoning_tokens", int64_t{-1});
  g.latency_ms = j.value("latency_ms", 0.0);
  g.time_to_first_token_ms = j.value("ttft_ms", -1.0);
  if (j.contains("effective_mode")) g.effective_mode = parse_mode(j["effective_mode"].get<std::string>());
  return g;
}

std::string messages_to_json(const Messages& m) {
  Json arr = Json::array();
  for (const auto& msg : m) arr.push_back({{"role", msg.role}, {"content", msg.content}});
  return json_text(arr);
}

// A prepared statement with RAII finalisation and small typed binders.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) != SQLITE_OK) s_ = nullptr;
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return s_ != nullptr; }
  sqlite3_stmt* get() { return s_; }

  Stmt& bind(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.data(), int(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Stmt& bind(int i, double v) {
    sqlite3_bind_double(s_, i, v);
    return *this;
  }
  Stmt& bind_null(int i) {
    sqlite3_bind_null(s_, i);
    return *this;
  }
  Stmt& bind_blob(int i, const void* p, size_t n) {
    sqlite3_bind_blob(s_, i, p, int(n), SQLITE_TRANSIENT);
    return *this;
  }
  int step() { return sqlite3_step(s_); }

  std::string text(int col) {
    auto p = sqlite3_column_text(s_, col);
    return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(s_, col))
             : std::string();
  }
  int64_t i64(int col) { return sqlite3_column_int64(s_, col); }
  double f64(int col) { return sqlite3_column_double(s_, col); }
  bool is_null(int col) { return sqlite3_column_type(s_, col) == SQLITE_NULL; }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
};

class SqliteStore final : public Store {
 public:
  SqliteStore(std::string path, sqlite3* db) : path_(std::move(path)), db_(db) {}
  ~SqliteStore() override { sqlite3_close_v2(db_); }

  const std::string& path() const override { return path_; }

  Status error(const std::string& what) {
    int code = sqlite3_errcode(db_);
    std::string msg = "database " + path_ + ": " + what + ": " + sqlite3_errmsg(db_);
    if (code == SQLITE_FULL)
      msg += " (disk full; attempts stored before this one are intact)";
    else if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
      msg += " (another process holds a lock on it; is another v4eval writing to this file?)";
    else if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT)
      msg += " (not a v4eval database, or damaged)";
    else if (code == SQLITE_READONLY || code == SQLITE_CANTOPEN || code == SQLITE_IOERR)
      msg += " (check permissions and free space)";
    return IoError(msg);
  }

  Status exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      sqlite3_free(err);
      return error(std::string("executing ") + std::string(sql).substr(0, 40));
    }
    return Status::Ok();
  }

  Status migrate(bool read_only) {
    std::lock_guard lock(mu_);
    int version = 0;
    {
      Stmt has(db_, "SELECT count(*) FROM sqlite_master WHERE name='schema_version'");
      if (!has.ok() || has.step() != SQLITE_ROW) return error("reading schema");
      if (has.i64(0) > 0) {
        Stmt v(db_, "SELECT version FROM schema_version");
        if (!v.ok() || v.step() != SQLITE_ROW) return error("reading schema_version");
        version = int(v.i64(0));
      }
    }
    if (version > kSchemaVersion)
      return IoError("database " + path_ + " has schema version " + std::to_string(version) +
                     ", written by a newer v4eval (this build knows up to " +
                     std::to_string(kSchemaVersion) + ")");
    if (version == kSchemaVersion) return Status::Ok();
    if (read_only) {
      // Readers use only tables that exist since version 1; newer tables (run_shards) read as
      // empty. So an older file can be reported on without being written to.
      if (version >= 1) {
        read_version_ = version;
        return Status::Ok();
      }
      return IoError("database " + path_ + " needs a schema migration; open it once for writing");
    }
    if (auto s = exec("BEGIN IMMEDIATE"); !s.ok()) return s;
    if (version == 0) {
      if (auto s = exec("CREATE TABLE schema_version (version INTEGER NOT NULL);"
                        "INSERT INTO schema_version VALUES (0);");
          !s.ok()) {
        exec("ROLLBACK");
        return s;
      }
    }
    for (int v = version; v < kSchemaVersion; ++v) {
      if (auto s = exec(kMigrations[v]); !s.ok()) {
        exec("ROLLBACK");
        return s;
      }
    }
    Stmt set(db_, "UPDATE schema_version SET version = ?");
    set.bind(1, int64_t{kSchemaVersion});
    if (!set.ok() || set.step() != SQLITE_DONE) {
      exec("ROLLBACK");
      return error("writing schema_version");
    }
    return exec("COMMIT");
  }

  static RunInfo read_run(Stmt& s) {
    RunInfo r;
    r.id = s.i64(0);
    r.name = s.text(1);
    r.spec = Json::parse(s.text(2), nullptr, false);
    r.suite_versions = Json::parse(s.text(3), nullptr, false);
    r.backend = s.text(4);
    r.model = s.text(5);
    r.git_revision = s.text(6);
    r.host = s.text(7);
    r.started_at = s.text(8);
    r.finished_at = s.text(9);
    r.status = s.text(10);
    return r;
  }
  static constexpr const char* kRunColumns =
      "id, name, spec, suite_versions, backend, model, git_revision, host, started_at, "
      "finished_at, status";

  Result<std::optional<RunInfo>> find_run_where(const std::string& where, auto bind_fn) {
    std::lock_guard lock(mu_);
    std::string sql = std::string("SELECT ") + kRunColumns + " FROM runs WHERE " + where;
    Stmt s(db_, sql.c_str());
    if (!s.ok()) return error("reading runs");
    bind_fn(s);
    int rc = s.step();
    if (rc == SQLITE_DONE) return std::optional<RunInfo>();
    if (rc != SQLITE_ROW) return error("reading runs");
    return std::optional<RunInfo>(read_run(s));
  }

  Result<std::optional<RunInfo>> find_run(const std::string& name) override {
    return find_run_where("name = ?", [&](Stmt& s) { s.bind(1, name); });
  }
  Result<std::optional<RunInfo>> find_run(int64_t id) override {
    return find_run_where("id = ?", [&](Stmt& s) { s.bind(1, id); });
  }

  Result<std::vector<RunInfo>> runs() override {
    std::lock_guard lock(mu_);
    std::string sql = std::string("SELECT ") + kRunColumns + " FROM runs ORDER BY id";
    Stmt s(db_, sql.c_str());
    if (!s.ok()) return error("reading runs");
    std::vector<RunInfo> out;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) out.push_back(read_run(s));
    if (rc != SQLITE_DONE) return error("reading runs");
    return out;
  }

  Result<RunInfo> create_run(RunInfo run) override {
    std::lock_guard lock(mu_);
    Stmt s(db_,
           "INSERT INTO runs (name, spec, suite_versions, backend, model, git_revision, host, "
           "started_at, finished_at, status) VALUES (?,?,?,?,?,?,?,?,?,?)");
    if (!s.ok()) return error("preparing run insert");
    s.bind(1, run.name).bind(2, json_text(run.spec)).bind(3, json_text(run.suite_versions));
    s.bind(4, run.backend).bind(5, run.model).bind(6, run.git_revision).bind(7, run.host);
    s.bind(8, run.started_at).bind(9, run.finished_at).bind(10, run.status);
    if (s.step() != SQLITE_DONE) return error("creating run '" + run.name + "'");
    run.id = sqlite3_last_insert_rowid(db_);
    return run;
  }

  Status update_run(const RunInfo& run) override {
    std::lock_guard lock(mu_);
    Stmt s(db_,
           "UPDATE runs SET suite_versions = ?, model = ?, finished_at = ?, status = ?, "
           "git_revision = ?, host = ? WHERE id = ?");
    if (!s.ok()) return error("preparing run update");
    s.bind(1, json_text(run.suite_versions)).bind(2, run.model).bind(3, run.finished_at);
    s.bind(4, run.status).bind(5, run.git_revision).bind(6, run.host).bind(7, run.id);
    if (s.step() != SQLITE_DONE) return error("updating run");
    return Status::Ok();
  }

  Result<std::vector<AttemptKey>> graded_keys(int64_t run_id) override {
    std::lock_guard lock(mu_);
    Stmt s(db_, "SELECT suite, sample_id, mode, repeat FROM attempts WHERE run_id = ? AND "
                "(error = '' OR error_stage = 'skipped')");
    if (!s.ok()) return error("reading attempts");
    s.bind(1, run_id);
    std::vector<AttemptKey> out;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW)
      out.push_back({s.text(0), s.text(1), parse_mode(s.text(2)).value_or(Mode::kNonThink),
                     int(s.i64(3))});
    if (rc != SQLITE_DONE) return error("reading attempts");
    return out;
  }

  Status put_prompt_locked(const std::string& hash, const Messages& prompt) {
    if (known_prompts_.count(hash)) return Status::Ok();
    {
      Stmt has(db_, "SELECT 1 FROM prompts WHERE hash = ?");
      has.bind(1, hash);
      int rc = has.step();
      if (rc == SQLITE_ROW) {
        known_prompts_.insert(hash);
        return Status::Ok();
      }
      if (rc != SQLITE_DONE) return error("reading prompts");
    }
    std::string raw = messages_to_json(prompt);
    uLongf bound = compressBound(raw.size());
    std::string packed(bound, '\0');
    if (compress2(reinterpret_cast<Bytef*>(packed.data()), &bound,
                  reinterpret_cast<const Bytef*>(raw.data()), raw.size(), 1) != Z_OK)
      return Internal("zlib compress failed");
    packed.resize(bound);
    Stmt s(db_, "INSERT OR IGNORE INTO prompts (hash, raw_bytes, messages_zlib) VALUES (?,?,?)");
    s.bind(1, hash).bind(2, int64_t(raw.size())).bind_blob(3, packed.data(), packed.size());
    if (s.step() != SQLITE_DONE) return error("storing prompt");
    pending_prompts_.push_back(hash);
    return Status::Ok();
  }

  Status record_attempt(int64_t run_id, const AttemptRecord& a, const Messages* prompt) override {
    std::lock_guard lock(mu_);
    pending_prompts_.clear();
    if (auto s = exec("BEGIN IMMEDIATE"); !s.ok()) return s;
    Status st = record_locked(run_id, a, prompt);
    if (!st.ok()) {
      exec("ROLLBACK");
      return st;
    }
    if (auto s = exec("COMMIT"); !s.ok()) {
      exec("ROLLBACK");
      return s;
    }
    for (auto& h : pending_prompts_) known_prompts_.insert(h);
    return Status::Ok();
  }

  Status record_locked(int64_t run_id, const AttemptRecord& a, const Messages* prompt) {
    if (prompt)
      if (auto s = put_prompt_locked(a.prompt_hash, *prompt); !s.ok()) return s;
    const Generation& g = a.generation;
    bool usable = !g.error.has_value() && (a.error_stage.empty() || a.error_stage == "grade");
    if (usable && !a.request_hash.empty()) {
      Stmt c(db_, "INSERT OR IGNORE INTO response_cache (request_hash, generation, created_at) "
                  "VALUES (?,?,?)");
      c.bind(1, a.request_hash).bind(2, json_text(generation_to_json(g))).bind(3, now_iso8601());
      if (c.step() != SQLITE_DONE) return error("writing response cache");
    }
    // Upsert that never overwrites a graded attempt: a graded row is final.
    Stmt s(db_, R"sql(
INSERT INTO attempts (run_id, suite, sample_id, mode, repeat, request_hash, prompt_hash, text,
  reasoning, finish_reason, effective_mode, prompt_tokens, completion_tokens, reasoning_tokens,
  latency_ms, ttft_ms, score, verdict, details, error, error_stage, tries, finished_at)
VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
ON CONFLICT (run_id, suite, sample_id, mode, repeat) DO UPDATE SET
  request_hash = excluded.request_hash, prompt_hash = excluded.prompt_hash, text = excluded.text,
  reasoning = excluded.reasoning, finish_reason = excluded.finish_reason,
  effective_mode = excluded.effective_mode, prompt_tokens = excluded.prompt_tokens,
  completion_tokens = excluded.completion_tokens, reasoning_tokens = excluded.reasoning_tokens,
  latency_ms = excluded.latency_ms, ttft_ms = excluded.ttft_ms, score = excluded.score,
  verdict = excluded.verdict, details = excluded.details, error = excluded.error,
  error_stage = excluded.error_stage, tries = attempts.tries + excluded.tries,
  finished_at = excluded.finished_at
WHERE attempts.error != '' AND attempts.error_stage != 'skipped'
)sql");
    if (!s.ok()) return error("preparing attempt insert");
    s.bind(1, run_id).bind(2, a.key.suite).bind(3, a.key.sample_id);
    s.bind(4, std::string(mode_name(a.key.mode))).bind(5, int64_t(a.key.repeat));
    s.bind(6, a.request_hash).bind(7, a.prompt_hash);
    s.bind(8, g.text).bind(9, g.reasoning).bind(10, g.finish_reason);
    if (g.effective_mode)
      s.bind(11, std::string(mode_name(*g.effective_mode)));
    else
      s.bind_null(11);
    s.bind(12, g.prompt_tokens).bind(13, g.completion_tokens).bind(14, g.reasoning_tokens);
    s.bind(15, g.latency_ms).bind(16, g.time_to_first_token_ms);
    if (a.score) {
      s.bind(17, a.score->value).bind(18, a.score->verdict).bind(19, json_text(a.score->details));
    } else {
      s.bind_null(17).bind_null(18).bind_null(19);
    }
    s.bind(20, a.error).bind(21, a.error_stage).bind(22, int64_t(a.tries));
    s.bind(23, a.finished_at.empty() ? now_iso8601() : a.finished_at);
    if (s.step() != SQLITE_DONE) return error("storing attempt");
    return Status::Ok();
  }

  static constexpr const char* kAttemptColumns =
      "suite, sample_id, mode, repeat, request_hash, prompt_hash, text, reasoning, finish_reason, "
      "effective_mode, prompt_tokens, completion_tokens, reasoning_tokens, latency_ms, ttft_ms, "
      "score, verdict, details, error, error_stage, tries, finished_at";

  static AttemptRecord read_attempt(Stmt& s) {
    AttemptRecord a;
    a.key = {s.text(0), s.text(1), parse_mode(s.text(2)).value_or(Mode::kNonThink),
             int(s.i64(3))};
    a.request_hash = s.text(4);
    a.prompt_hash = s.text(5);
    Generation& g = a.generation;
    g.text = s.text(6);
    g.reasoning = s.text(7);
    g.finish_reason = s.text(8);
    if (!s.is_null(9)) g.effective_mode = parse_mode(s.text(9));
    g.prompt_tokens = s.i64(10);
    g.completion_tokens = s.i64(11);
    g.reasoning_tokens = s.i64(12);
    g.latency_ms = s.f64(13);
    g.time_to_first_token_ms = s.f64(14);
    if (!s.is_null(15)) {
      Score sc;
      sc.value = s.f64(15);
      sc.verdict = s.text(16);
      sc.details = Json::parse(s.text(17), nullptr, false);
      a.score = std::move(sc);
    }
    a.error = s.text(18);
    a.error_stage = s.text(19);
    a.tries = int(s.i64(20));
    a.finished_at = s.text(21);
    return a;
  }

  Result<std::vector<AttemptRecord>> attempts(int64_t run_id, const std::string& suite) override {
    std::lock_guard lock(mu_);
    std::string sql = std::string("SELECT ") + kAttemptColumns +
                      " FROM attempts WHERE run_id = ?" + (suite.empty() ? "" : " AND suite = ?") +
                      " ORDER BY suite, mode, sample_id, repeat";
    Stmt s(db_, sql.c_str());
    if (!s.ok()) return error("reading attempts");
    s.bind(1, run_id);
    if (!suite.empty()) s.bind(2, suite);
    std::vector<AttemptRecord> out;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) out.push_back(read_attempt(s));
    if (rc != SQLITE_DONE) return error("reading attempts");
    return out;
  }

  Result<std::optional<AttemptRecord>> attempt(int64_t run_id, const AttemptKey& key) override {
    std::lock_guard lock(mu_);
    std::string sql = std::string("SELECT ") + kAttemptColumns +
                      " FROM attempts WHERE run_id = ? AND suite = ? AND sample_id = ? AND "
                      "mode = ? AND repeat = ?";
    Stmt s(db_, sql.c_str());
    if (!s.ok()) return error("reading attempts");
    s.bind(1, run_id).bind(2, key.suite).bind(3, key.sample_id);
    s.bind(4, std::string(mode_name(key.mode))).bind(5, int64_t(key.repeat));
    int rc = s.step();
    if (rc == SQLITE_DONE) return std::optional<AttemptRecord>();
    if (rc != SQLITE_ROW) return error("reading attempts");
    return std::optional<AttemptRecord>(read_attempt(s));
  }

  Result<std::optional<Messages>> prompt(const std::string& hash) override {
    std::lock_guard lock(mu_);
    Stmt s(db_, "SELECT raw_bytes, messages_zlib FROM prompts WHERE hash = ?");
    if (!s.ok()) return error("reading prompts");
    s.bind(1, hash);
    int rc = s.step();
    if (rc == SQLITE_DONE) return std::optional<Messages>();
    if (rc != SQLITE_ROW) return error("reading prompts");
    uLongf raw_len = uLongf(s.i64(0));
    std::string raw(raw_len, '\0');
    const void* blob = sqlite3_column_blob(s.get(), 1);
    int blob_len = sqlite3_column_bytes(s.get(), 1);
    if (uncompress(reinterpret_cast<Bytef*>(raw.data()), &raw_len,
                   static_cast<const Bytef*>(blob), blob_len) != Z_OK)
      return IoError("database " + path_ + ": stored prompt " + hash + " is damaged");
    Json arr = Json::parse(raw, nullptr, false);
    if (!arr.is_array()) return IoError("database " + path_ + ": stored prompt is damaged");
    Messages m;
    for (auto& x : arr) m.push_back({x.value("role", ""), x.value("content", "")});
    return std::optional<Messages>(std::move(m));
  }

  Result<std::optional<Generation>> cached_generation(const std::string& request_hash) override {
    std::lock_guard lock(mu_);
    Stmt s(db_, "SELECT generation FROM response_cache WHERE request_hash = ?");
    if (!s.ok()) return error("reading response cache");
    s.bind(1, request_hash);
    int rc = s.step();
    if (rc == SQLITE_DONE) return std::optional<Generation>();
    if (rc != SQLITE_ROW) return error("reading response cache");
    Json j = Json::parse(s.text(0), nullptr, false);
    if (!j.is_object()) return std::optional<Generation>();
    return std::optional<Generation>(generation_from_json(j));
  }

  Status cache_generation(const std::string& request_hash, const Generation& g) override {
    std::lock_guard lock(mu_);
    Stmt c(db_, "INSERT OR IGNORE INTO response_cache (request_hash, generation, created_at) "
                "VALUES (?,?,?)");
    c.bind(1, request_hash).bind(2, json_text(generation_to_json(g))).bind(3, now_iso8601());
    if (c.step() != SQLITE_DONE) return error("writing response cache");
    return Status::Ok();
  }

  Result<ImportCounts> import_run(const std::string& source_path, int64_t source_run_id,
                                  int64_t into_run_id, const ShardRecord& shard) override {
    std::lock_guard lock(mu_);
    {
      Stmt attach(db_, "ATTACH DATABASE ? AS src");
      if (!attach.ok()) return error("attaching " + source_path);
      attach.bind(1, source_path);
      if (attach.step() != SQLITE_DONE) return error("attaching " + source_path);
    }
    auto detach = [&] { exec("DETACH DATABASE src"); };
    if (auto s = exec("BEGIN IMMEDIATE"); !s.ok()) {
      detach();
      return s;
    }
    auto fail = [&](const std::string& what) -> Result<ImportCounts> {
      Status st = error(what);
      exec("ROLLBACK");
      detach();
      return st;
    };
    ImportCounts counts;
    auto count = [&](const char* sql, int64_t* out) {
      Stmt c(db_, sql);
      if (!c.ok()) return false;
      c.bind(1, source_run_id).bind(2, into_run_id);
      if (c.step() != SQLITE_ROW) return false;
      *out = c.i64(0);
      return true;
    };
    // Classify before copying: new keys, error rows here that a final row there replaces,
    // and graded rows in both that disagree.
    constexpr const char* kJoin =
        " FROM src.attempts s JOIN main.attempts t ON t.run_id = ?2 AND t.suite = s.suite AND "
        "t.sample_id = s.sample_id AND t.mode = s.mode AND t.repeat = s.repeat WHERE s.run_id = ?1";
    std::string replaced_sql = std::string("SELECT count(*)") + kJoin +
                               " AND t.error != '' AND t.error_stage != 'skipped' AND "
                               "(s.error = '' OR s.error_stage = 'skipped')";
    std::string conflicts_sql = std::string("SELECT count(*)") + kJoin +
                                " AND t.error = '' AND s.error = '' AND t.score IS NOT s.score";
    std::string common_sql = std::string("SELECT count(*)") + kJoin;
    int64_t total = 0, common = 0;
    if (!count("SELECT count(*) FROM src.attempts WHERE run_id = ?1 AND ?2 IS NOT NULL", &total) ||
        !count(common_sql.c_str(), &common) || !count(replaced_sql.c_str(), &counts.replaced) ||
        !count(conflicts_sql.c_str(), &counts.conflicts))
      return fail("reading " + source_path);
    counts.added = total - common;
    counts.unchanged = common - counts.replaced;
    {
      int64_t before = 0;
      Stmt c(db_, "SELECT count(*) FROM main.prompts");
      if (!c.ok() || c.step() != SQLITE_ROW) return fail("reading prompts");
      before = c.i64(0);
      Stmt p(db_, "INSERT OR IGNORE INTO main.prompts (hash, raw_bytes, messages_zlib) "
                  "SELECT hash, raw_bytes, messages_zlib FROM src.prompts WHERE hash IN "
                  "(SELECT prompt_hash FROM src.attempts WHERE run_id = ?)");
      if (!p.ok()) return fail("copying prompts from " + source_path);
      p.bind(1, source_run_id);
      if (p.step() != SQLITE_DONE) return fail("copying prompts from " + source_path);
      Stmt c2(db_, "SELECT count(*) FROM main.prompts");
      if (!c2.ok() || c2.step() != SQLITE_ROW) return fail("reading prompts");
      counts.prompts_added = c2.i64(0) - before;
    }
    {
      Stmt r(db_, "INSERT OR IGNORE INTO main.response_cache (request_hash, generation, created_at) "
                  "SELECT request_hash, generation, created_at FROM src.response_cache WHERE "
                  "request_hash IN (SELECT request_hash FROM src.attempts WHERE run_id = ?)");
      if (!r.ok()) return fail("copying the response cache from " + source_path);
      r.bind(1, source_run_id);
      if (r.step() != SQLITE_DONE) return fail("copying the response cache from " + source_path);
    }
    {
      Stmt a(db_, R"sql(
INSERT INTO main.attempts (run_id, suite, sample_id, mode, repeat, request_hash, prompt_hash,
  text, reasoning, finish_reason, effective_mode, prompt_tokens, completion_tokens,
  reasoning_tokens, latency_ms, ttft_ms, score, verdict, details, error, error_stage, tries,
  finished_at)
SELECT ?2, suite, sample_id, mode, repeat, request_hash, prompt_hash, text, reasoning,
  finish_reason, effective_mode, prompt_tokens, completion_tokens, reasoning_tokens, latency_ms,
  ttft_ms, score, verdict, details, error, error_stage, tries, finished_at
FROM src.attempts WHERE run_id = ?1 ORDER BY id
ON CONFLICT (run_id, suite, sample_id, mode, repeat) DO UPDATE SET
  request_hash = excluded.request_hash, prompt_hash = excluded.prompt_hash, text = excluded.text,
  reasoning = excluded.reasoning, finish_reason = excluded.finish_reason,
  effective_mode = excluded.effective_mode, prompt_tokens = excluded.prompt_tokens,
  completion_tokens = excluded.completion_tokens, reasoning_tokens = excluded.reasoning_tokens,
  latency_ms = excluded.latency_ms, ttft_ms = excluded.ttft_ms, score = excluded.score,
  verdict = excluded.verdict, details = excluded.details, error = excluded.error,
  error_stage = excluded.error_stage, tries = excluded.tries, finished_at = excluded.finished_at
WHERE attempts.error != '' AND attempts.error_stage != 'skipped' AND
  (excluded.error = '' OR excluded.error_stage = 'skipped')
)sql");
      if (!a.ok()) return fail("copying attempts from " + source_path);
      a.bind(1, source_run_id).bind(2, into_run_id);
      if (a.step() != SQLITE_DONE) return fail("copying attempts from " + source_path);
    }
    {
      Stmt sh(db_, R"sql(
INSERT INTO main.run_shards (run_id, shard_index, shard_count, source, source_run, source_status,
  merged_at) VALUES (?,?,?,?,?,?,?)
ON CONFLICT (run_id, shard_index, shard_count) DO UPDATE SET source = excluded.source,
  source_run = excluded.source_run, source_status = excluded.source_status,
  merged_at = excluded.merged_at
)sql");
      if (!sh.ok()) return fail("recording the shard");
      sh.bind(1, into_run_id).bind(2, int64_t(shard.shard_index)).bind(3, int64_t(shard.shard_count));
      sh.bind(4, shard.source).bind(5, shard.source_run).bind(6, shard.source_status);
      sh.bind(7, shard.merged_at.empty() ? now_iso8601() : shard.merged_at);
      if (sh.step() != SQLITE_DONE) return fail("recording the shard");
    }
    if (auto s = exec("COMMIT"); !s.ok()) {
      exec("ROLLBACK");
      detach();
      return s;
    }
    detach();
    return counts;
  }

  Result<std::vector<ShardRecord>> run_shards(int64_t run_id) override {
    std::lock_guard lock(mu_);
    if (read_version_ < 2) return std::vector<ShardRecord>();
    Stmt s(db_, "SELECT shard_index, shard_count, source, source_run, source_status, merged_at "
                "FROM run_shards WHERE run_id = ? ORDER BY shard_count, shard_index");
    if (!s.ok()) return error("reading run_shards");
    s.bind(1, run_id);
    std::vector<ShardRecord> out;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW)
      out.push_back({int(s.i64(0)), int(s.i64(1)), s.text(2), s.text(3), s.text(4), s.text(5)});
    if (rc != SQLITE_DONE) return error("reading run_shards");
    return out;
  }

  Status replace_metrics(int64_t run_id, const std::string& suite, Mode mode,
                         const std::vector<Metric>& metrics) override {
    std::lock_guard lock(mu_);
    if (auto s = exec("BEGIN IMMEDIATE"); !s.ok()) return s;
    auto fail = [&](const std::string& what) {
      Status st = error(what);
      exec("ROLLBACK");
      return st;
    };
    {
      Stmt d(db_, "DELETE FROM metrics WHERE run_id = ? AND suite = ? AND mode = ?");
      d.bind(1, run_id).bind(2, suite).bind(3, std::string(mode_name(mode)));
      if (d.step() != SQLITE_DONE) return fail("deleting metrics");
    }
    for (const auto& m : metrics) {
      Stmt s(db_, "INSERT INTO metrics (run_id, suite, mode, name, value, ci_low, ci_high, n) "
                  "VALUES (?,?,?,?,?,?,?,?)");
      s.bind(1, run_id).bind(2, suite).bind(3, std::string(mode_name(mode))).bind(4, m.name);
      s.bind(5, m.value).bind(6, m.ci_low).bind(7, m.ci_high).bind(8, m.n);
      if (s.step() != SQLITE_DONE) return fail("storing metrics");
    }
    if (auto s = exec("COMMIT"); !s.ok()) {
      exec("ROLLBACK");
      return s;
    }
    return Status::Ok();
  }

  Result<std::vector<StoredMetric>> metrics(int64_t run_id) override {
    std::lock_guard lock(mu_);
    Stmt s(db_, "SELECT suite, mode, name, value, ci_low, ci_high, n FROM metrics "
                "WHERE run_id = ? ORDER BY suite, mode, name");
    if (!s.ok()) return error("reading metrics");
    s.bind(1, run_id);
    std::vector<StoredMetric> out;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW)
      out.push_back({s.text(0), parse_mode(s.text(1)).value_or(Mode::kNonThink),
                     Metric{s.text(2), s.f64(3), s.f64(4), s.f64(5), s.i64(6)}});
    if (rc != SQLITE_DONE) return error("reading metrics");
    return out;
  }

 private:
  std::string path_;
  sqlite3* db_;
  std::mutex mu_;  // one connection, serialised: SQLite writes are serial anyway
  std::set<std::string> known_prompts_;
  int read_version_ = kSchemaVersion;  // an older file opened read-only is read as is
  std::vector<std::string> pending_prompts_;
};

}  // namespace

int Store::schema_version() { return kSchemaVersion; }

std::string now_iso8601() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Result<std::unique_ptr<Store>> Store::open(const std::string& path, bool read_only,
                                           int busy_timeout_ms) {
  sqlite3* db = nullptr;
  int flags = read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  flags |= SQLITE_OPEN_NOMUTEX;  // our own mutex serialises access
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return IoError("cannot open database " + path + ": " + msg +
                   (read_only ? " (does the file exist?)" : ""));
  }
  auto store = std::make_unique<SqliteStore>(path, db);
  sqlite3_busy_timeout(db, busy_timeout_ms);
  sqlite3_extended_result_codes(db, 0);
  if (!read_only) {
    // WAL: readers never block the writer; NORMAL sync is durable across process crashes
    // (kill -9), which is the failure the resume logic is built for.
    if (auto s = store->exec("PRAGMA journal_mode=WAL"); !s.ok()) return s;
    if (auto s = store->exec("PRAGMA synchronous=NORMAL"); !s.ok()) return s;
  }
  if (auto s = store->exec("PRAGMA foreign_keys=ON"); !s.ok()) return s;
  if (auto s = store->migrate(read_only); !s.ok()) return s;
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace v4eval
