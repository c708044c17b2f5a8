#include "reports/html_report.h"

#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <thread>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>

namespace v4eval {
namespace embedded {
std::string_view report_js();
std::string_view report_css();
}  // namespace embedded

std::string zlib_compress(const std::string& data, int level) {
  uLongf bound = compressBound(uLong(data.size()));
  std::string out(bound, '\0');
  if (compress2(reinterpret_cast<Bytef*>(out.data()), &bound,
                reinterpret_cast<const Bytef*>(data.data()), uLong(data.size()), level) != Z_OK)
    return {};
  out.resize(bound);
  return out;
}

std::string base64_encode(const std::string& data) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  for (; i + 2 < data.size(); i += 3) {
    uint32_t v = (uint32_t(p[i]) << 16) | (uint32_t(p[i + 1]) << 8) | p[i + 2];
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < data.size()) {
    uint32_t v = uint32_t(p[i]) << 16;
    if (i + 1 < data.size()) v |= uint32_t(p[i + 1]) << 8;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < data.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

namespace {

// Natural order for sample ids: numeric ids by value ("2" before "10"), others as text.
bool natural_less(const std::string& a, const std::string& b) {
  auto numeric = [](const std::string& s) {
    return !s.empty() && s.size() < 19 &&
           std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
  };
  bool na = numeric(a), nb = numeric(b);
  if (na && nb) return std::stoll(a) < std::stoll(b);
  if (na != nb) return na;
  return a < b;
}

// Cuts a UTF-8 string to at most `n` bytes without splitting a character.
size_t utf8_cut(const std::string& s, size_t n) {
  if (n >= s.size()) return s.size();
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return n;
}
size_t utf8_cut_from(const std::string& s, size_t pos) {
  while (pos < s.size() && (static_cast<unsigned char>(s[pos]) & 0xC0) == 0x80) ++pos;
  return pos;
}

// Head and tail of a long text with what was left out in between, marked for the viewer.
Json clipped(const std::string& s, size_t budget) {
  if (s.size() <= budget) return s;
  size_t head = utf8_cut(s, budget * 2 / 3);
  size_t tail = utf8_cut_from(s, s.size() - budget / 3);
  return Json{{"head", s.substr(0, head)}, {"tail", s.substr(tail)},
              {"omitted", int64_t(tail - head)}, {"bytes", int64_t(s.size())}};
}

// UTF-8 validity matters: nlohmann::json refuses to dump invalid UTF-8 (a model can emit it).
std::string valid_utf8(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = s[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    bool ok = len > 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (ok) {
      out.append(s, i, len);
      i += len;
    } else {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
    }
  }
  return out;
}

Json prompt_json(const Messages& m, const HtmlOptions& o) {
  size_t total = 0;
  for (const auto& msg : m) total += msg.content.size() + msg.role.size();
  Json messages = Json::array();
  if (total <= o.prompt_full_bytes) {
    for (const auto& msg : m)
      messages.push_back({{"role", valid_utf8(msg.role)}, {"content", valid_utf8(msg.content)}});
    return {{"n", int64_t(m.size())}, {"bytes", int64_t(total)}, {"messages", messages}};
  }
  // Summarised: the last message (the question) gets the largest share, the first one (system
  // prompt or instructions) the next, and the middle is listed by role and size, a few heads.
  const size_t budget = o.prompt_summary_bytes;
  std::map<std::string, int64_t> roles;
  for (const auto& msg : m) ++roles[msg.role];
  auto part = [&](size_t i, size_t bytes) {
    const Message& msg = m[i];
    return Json{{"i", int64_t(i)}, {"role", valid_utf8(msg.role)},
                {"content", clipped(valid_utf8(msg.content), bytes)},
                {"bytes", int64_t(msg.content.size())}};
  };
  size_t last = m.size() - 1;
  messages.push_back(part(0, budget / 4));
  const size_t kMiddleShown = 6;
  size_t middle = m.size() > 2 ? m.size() - 2 : 0;
  if (middle > 0) {
    // Evenly spaced samples of the middle messages, each cut short.
    size_t shown = std::min(middle, kMiddleShown);
    size_t prev = 0;
    for (size_t k = 0; k < shown; ++k) {
      size_t i = 1 + (middle * k) / shown;
      if (i <= prev || i >= last) continue;
      if (i > prev + 1) {
        size_t bytes = 0;
        for (size_t j = prev + 1; j < i; ++j) bytes += m[j].content.size();
        messages.push_back({{"skipped", int64_t(i - prev - 1)}, {"bytes", int64_t(bytes)}});
      }
      messages.push_back(part(i, budget / (4 * kMiddleShown)));
      prev = i;
    }
    if (last > prev + 1) {
      size_t bytes = 0;
      for (size_t j = prev + 1; j < last; ++j) bytes += m[j].content.size();
      messages.push_back({{"skipped", int64_t(last - prev - 1)}, {"bytes", int64_t(bytes)}});
    }
  }
  if (last > 0) messages.push_back(part(last, budget / 2));
  return {{"n", int64_t(m.size())}, {"bytes", int64_t(total)}, {"summarised", true},
          {"roles", roles}, {"messages", messages}};
}

// Compresses chunks on all cores and writes them to the page in order, a batch at a time, so
// memory stays bounded by one batch whatever the report's size.
class ChunkSink {
 public:
  ChunkSink(std::ostream& out, int level) : out_(out), level_(level) {
    threads_ = std::max(1u, std::min(8u, std::thread::hardware_concurrency()));
  }
  void add(std::string id, const Json& j) {
    pending_.push_back({std::move(id), j.dump(-1, ' ', false, Json::error_handler_t::replace), {}});
    raw_bytes += pending_.back().raw.size();
    ++count;
    if (pending_.size() >= size_t(4 * threads_)) flush();
  }
  void flush() {
    std::atomic<size_t> next{0};
    auto work = [&] {
      for (size_t i; (i = next.fetch_add(1)) < pending_.size();)
        pending_[i].packed = base64_encode(zlib_compress(pending_[i].raw, level_));
    };
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < threads_ && t < pending_.size(); ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
    for (const auto& c : pending_)
      out_ << "<script type=\"application/x-v4eval-chunk\" id=\"" << c.id << "\" data-raw=\""
           << c.raw.size() << "\">" << c.packed << "</script>\n";
    pending_.clear();
  }
  size_t raw_bytes = 0, count = 0;

 private:
  struct Pending {
    std::string id, raw, packed;
  };
  std::ostream& out_;
  int level_;
  unsigned threads_;
  std::vector<Pending> pending_;
};

Json metric_array(const Metric& m) {
  return Json::array({m.value, m.ci_low, m.ci_high, m.n, too_small_to_compare(m)});
}

Json dist(const Distribution& d) {
  if (d.count == 0) return nullptr;
  return {{"count", d.count}, {"mean", d.mean}, {"p50", d.p50}, {"p90", d.p90}, {"max", d.max}};
}

// Comparison JSON for the page: the flip lists are capped (the viewer recomputes them from the
// attempts anyway; these carry the statistics).
Json page_comparison(const Comparison& c) {
  Json j = comparison_to_json(c);
  for (auto& row : j["rows"])
    for (const char* side : {"won", "lost"}) {
      auto& list = row["flips"][side];
      if (list.size() > 200) list.erase(list.begin() + 200, list.end());
    }
  return j;
}

}  // namespace

Result<HtmlStats> write_html_report(const std::string& path, const std::vector<HtmlRun>& runs,
                                    const std::vector<Comparison>& comparisons,
                                    const HtmlOptions& o) {
  HtmlStats stats;
  std::string tmp = path + ".tmp";
  std::ofstream out(tmp, std::ios::binary);
  if (!out) return IoError("cannot write " + path + " (check the folder exists and is writable)");
  auto discard = [&](Status st) {
    out.close();
    std::remove(tmp.c_str());
    return st;
  };
  auto escape_html = [](const std::string& s) {
    std::string r;
    for (char ch : s) {
      if (ch == '<') r += "&lt;";
      else if (ch == '>') r += "&gt;";
      else if (ch == '&') r += "&amp;";
      else if (ch == '"') r += "&quot;";
      else r += ch;
    }
    return r;
  };
  out << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
         "<meta name=\"generator\" content=\""
      << escape_html(o.generator) << "\">\n<title>" << escape_html(o.title)
      << "</title>\n<link rel=\"icon\" href=\"data:,\">\n<style>\n"
      << embedded::report_css() << "\n</style>\n</head>\n<body>\n"
      << "<div id=\"app\"><div id=\"loading\" class=\"loading\">Loading report…</div>"
         "<noscript>This report needs JavaScript.</noscript></div>\n";
  ChunkSink sink(out, o.zlib_level);
  struct Row {
    int run;
    const AttemptRecord* a;
  };
  std::vector<Row> rows;
  for (size_t r = 0; r < runs.size(); ++r)
    for (const auto& a : runs[r].data->attempts) rows.push_back({int(r), &a});
  std::stable_sort(rows.begin(), rows.end(), [](const Row& x, const Row& y) {
    if (x.run != y.run) return x.run < y.run;
    const AttemptKey &a = x.a->key, &b = y.a->key;
    if (a.suite != b.suite) return a.suite < b.suite;
    if (a.mode != b.mode) return a.mode < b.mode;
    if (a.sample_id != b.sample_id) return natural_less(a.sample_id, b.sample_id);
    return a.repeat < b.repeat;
  });
  stats.attempts = rows.size();

  // Dictionaries keep the per-attempt columns small.
  std::vector<std::string> suites, verdicts, errors, finishes;
  auto index_of = [](std::vector<std::string>& dict, const std::string& v) {
    auto it = std::find(dict.begin(), dict.end(), v);
    if (it != dict.end()) return int(it - dict.begin());
    dict.push_back(v);
    return int(dict.size() - 1);
  };
  // Prompts are shared by runs in one store (same data, same prompt): keyed by (store, hash).
  std::map<std::pair<const Store*, std::string>, int> prompt_ids;
  std::vector<std::pair<int, std::string>> prompt_list;
  Json c_run = Json::array(), c_suite = Json::array(), c_mode = Json::array(),
       c_sample = Json::array(), c_repeat = Json::array(), c_score = Json::array(),
       c_verdict = Json::array(), c_error = Json::array(), c_status = Json::array(),
       c_finish = Json::array(), c_ptok = Json::array(), c_ctok = Json::array(),
       c_rtok = Json::array(), c_lat = Json::array(), c_prompt = Json::array(),
       c_tries = Json::array();
  size_t text_chunks = 0;
  Json chunk = Json::array();
  auto flush_chunk = [&] {
    if (chunk.empty()) return;
    sink.add("v4-t" + std::to_string(text_chunks++), chunk);
    chunk = Json::array();
  };
  for (const auto& row : rows) {
    const AttemptRecord& a = *row.a;
    const Generation& g = a.generation;
    c_run.push_back(row.run);
    c_suite.push_back(index_of(suites, a.key.suite));
    c_mode.push_back(int(a.key.mode));
    c_sample.push_back(valid_utf8(a.key.sample_id));
    c_repeat.push_back(a.key.repeat);
    bool skipped = a.error_stage == "skipped";
    c_score.push_back(a.score ? Json(a.score->value) : Json());
    c_verdict.push_back(a.score ? index_of(verdicts, valid_utf8(a.score->verdict)) : -1);
    c_status.push_back(a.score ? 0 : skipped ? 2 : 1);
    c_error.push_back(a.score ? -1 : index_of(errors, skipped ? "skipped" : error_class(a.error_stage, a.error)));
    c_finish.push_back(index_of(finishes, valid_utf8(g.finish_reason)));
    c_ptok.push_back(g.prompt_tokens);
    c_ctok.push_back(g.completion_tokens);
    c_rtok.push_back(g.reasoning_tokens);
    c_lat.push_back(double(int64_t(g.latency_ms * 10 + 0.5)) / 10);
    c_tries.push_back(a.tries);
    int pid = -1;
    if (!a.prompt_hash.empty()) {
      auto [it, inserted] =
          prompt_ids.try_emplace({runs[size_t(row.run)].store, a.prompt_hash}, int(prompt_list.size()));
      if (inserted) prompt_list.push_back({row.run, a.prompt_hash});
      pid = it->second;
    }
    c_prompt.push_back(pid);
    Json t = {{"t", clipped(valid_utf8(g.text), o.text_bytes)},
              {"d", a.score ? a.score->details : Json::object()}};
    if (!g.reasoning.empty()) t["r"] = clipped(valid_utf8(g.reasoning), o.text_bytes);
    if (!a.error.empty()) t["e"] = valid_utf8(a.error), t["es"] = a.error_stage;
    if (g.time_to_first_token_ms >= 0) t["ttft"] = g.time_to_first_token_ms;
    if (g.effective_mode) t["em"] = mode_name(*g.effective_mode);
    if (!a.finished_at.empty()) t["at"] = a.finished_at;
    chunk.push_back(std::move(t));
    if (chunk.size() >= o.chunk_attempts) flush_chunk();
  }
  flush_chunk();

  // Prompts, in chunks of at most 64 prompts or about 1 MB of JSON, each read from its run's
  // store once. prompt_offsets[c] = id of the first prompt in prompt chunk c.
  size_t prompt_chunks = 0;
  Json pchunk = Json::array(), prompt_offsets = Json::array();
  size_t pchunk_bytes = 0, first_in_chunk = 0, next_prompt = 0;
  const size_t kPromptsPerChunk = 64;
  auto flush_prompts = [&] {
    if (pchunk.empty()) return;
    sink.add("v4-p" + std::to_string(prompt_chunks++), pchunk);
    prompt_offsets.push_back(first_in_chunk);
    first_in_chunk = next_prompt;
    pchunk = Json::array();
    pchunk_bytes = 0;
  };
  for (const auto& [run, hash] : prompt_list) {
    auto prompt = runs[size_t(run)].store->prompt(hash);
    if (!prompt.ok()) return discard(prompt.status());
    Json pj = prompt->has_value() ? prompt_json(**prompt, o) : Json{{"missing", true}};
    pchunk_bytes += pj.dump(-1, ' ', false, Json::error_handler_t::replace).size();
    pchunk.push_back(std::move(pj));
    ++next_prompt;
    if (pchunk.size() >= kPromptsPerChunk || pchunk_bytes > (1u << 20)) flush_prompts();
  }
  flush_prompts();
  stats.prompts = prompt_list.size();

  // The summary chunk.
  Json jruns = Json::array(), jsuites = Json::array();
  for (size_t r = 0; r < runs.size(); ++r) {
    const RunData& d = *runs[r].data;
    Json shards = Json::array();
    for (const auto& s : runs[r].shards)
      shards.push_back({{"index", s.shard_index}, {"count", s.shard_count}, {"source", s.source},
                        {"status", s.source_status}});
    jruns.push_back({{"name", d.info.name}, {"label", d.label}, {"backend", d.info.backend},
                     {"model", d.info.model}, {"status", d.info.status},
                     {"started_at", d.info.started_at}, {"finished_at", d.info.finished_at},
                     {"git_revision", d.info.git_revision}, {"host", d.info.host},
                     {"settings", d.info.spec}, {"suite_versions", d.info.suite_versions},
                     {"shards", shards}});
    for (const auto& s : d.suites) {
      Json metrics = Json::object();
      for (const auto& [name, mv] : s.metrics) metrics[name] = metric_array(mv.total);
      jsuites.push_back({{"run", r}, {"suite", s.suite}, {"mode", mode_name(s.mode)},
                         {"version", s.version}, {"data_hash", s.data_hash},
                         {"headline", s.headline}, {"n_samples", s.n_samples},
                         {"n_attempts", s.n_attempts}, {"n_errors", s.n_errors},
                         {"n_skipped", s.n_skipped}, {"n_truncated", s.n_truncated},
                         {"error_classes", s.error_classes}, {"metrics", metrics},
                         {"tokens", {{"prompt", dist(s.prompt_tokens)},
                                     {"completion", dist(s.completion_tokens)},
                                     {"reasoning", dist(s.reasoning_tokens)},
                                     {"latency_ms", dist(s.latency_ms)}}}});
    }
  }
  Json jcomparisons = Json::array();
  for (const auto& c : comparisons) jcomparisons.push_back(page_comparison(c));
  Json meta = {{"title", o.title},
               {"generator", o.generator},
               {"generated_at", now_iso8601()},
               {"runs", jruns},
               {"results", jsuites},
               {"comparisons", jcomparisons},
               {"modes", {"non-think", "think-high", "think-max"}},
               {"suites", suites},
               {"verdicts", verdicts},
               {"errors", errors},
               {"finishes", finishes},
               {"chunk_size", o.chunk_attempts},
               {"text_chunks", text_chunks},
               {"prompt_chunks", prompt_chunks},
               {"prompt_offsets", prompt_offsets},
               {"limits", {{"prompt_full_bytes", o.prompt_full_bytes},
                           {"text_bytes", o.text_bytes}}},
               {"attempts", {{"run", c_run}, {"suite", c_suite}, {"mode", c_mode},
                             {"sample", c_sample}, {"repeat", c_repeat}, {"score", c_score},
                             {"verdict", c_verdict}, {"error", c_error}, {"status", c_status},
                             {"finish", c_finish}, {"ptok", c_ptok}, {"ctok", c_ctok},
                             {"rtok", c_rtok}, {"lat", c_lat}, {"prompt", c_prompt},
                             {"tries", c_tries}}}};
  sink.add("v4-meta", meta);
  sink.flush();
  stats.raw_bytes = sink.raw_bytes;
  stats.chunks = sink.count;
  out << "<script>\n" << embedded::report_js() << "\n</script>\n</body>\n</html>\n";
  out.close();
  if (!out) return discard(IoError("cannot write " + path + " (disk full?)"));
  std::error_code ec;
  stats.bytes = size_t(std::filesystem::file_size(tmp, ec));
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return discard(IoError("cannot write " + path));
  return stats;
}

}  // namespace v4eval
