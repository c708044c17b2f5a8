// CodeElo rating estimate. Reference: QwenLM/CodeElo @ 0bffc84, calc_rating.py
// (calc_elo_rating, get_percentile), restated in suites.md §2.1. The arithmetic is done in the
// same order with the same doubles, so the binary search lands on the same integer.

#include "suites/codeforces/cf_rating.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

namespace v4eval::cf {
namespace {

const Json* result_of(const Json& reply) {
  if (reply.is_object() && reply.contains("result")) return &reply["result"];
  return &reply;
}

}  // namespace

Result<ContestStandings> parse_codeforces_api(const Json& standings_reply,
                                              const Json& changes_reply, const std::string& where) {
  const Json& s = *result_of(standings_reply);
  const Json& c = *result_of(changes_reply);
  if (!s.is_object() || !s.contains("problems") || !s.contains("rows") || !s["rows"].is_array())
    return DataError(where +
                     "standings: expected contest.standings' result {contest, problems, rows}");
  if (!c.is_array())
    return DataError(where + "rating changes: expected contest.ratingChanges' result list");
  ContestStandings out;
  try {
    if (s.contains("contest")) {
      out.contest_id = s["contest"].value("id", int64_t(0));
      out.name = s["contest"].value("name", "");
    }
    for (const auto& p : s["problems"]) {
      ContestStandings::Problem prob;
      prob.index = p.at("index").get<std::string>();
      if (p.contains("points") && p["points"].is_number()) prob.points = p["points"].get<double>();
      out.problems.push_back(prob);
    }
    for (const auto& r : s["rows"]) {
      ContestStandings::Row row;
      row.handle = r.at("party").at("members").at(0).at("handle").get<std::string>();
      row.points = r.at("points").get<double>();
      row.penalty = r.value("penalty", 0.0);
      out.rows.push_back(row);
    }
    for (const auto& ch : c)
      out.rating_changes.push_back(
          {ch.at("handle").get<std::string>(), ch.at("oldRating").get<double>()});
  } catch (const Json::exception& e) {
    return DataError(where + "unexpected Codeforces API JSON: " + e.what());
  }
  return out;
}

ContestEstimate estimate_contest_rating(const ContestStandings& st,
                                        const std::map<std::string, std::vector<bool>>& accepted,
                                        const RatingRules& rules) {
  ContestEstimate e;
  // calc_rating.py: `set(standings handles) and set(rating-change handles)` is the second set
  // (Python's `and`), so the standings keep the rows whose first member was rated; both lists
  // must then have the same length and more than 200 entries.
  std::set<std::string> rated;
  for (const auto& c : st.rating_changes) rated.insert(c.handle);
  std::vector<const ContestStandings::Row*> rows;
  for (const auto& r : st.rows)
    if (rated.count(r.handle)) rows.push_back(&r);
  const auto& changes = st.rating_changes;
  e.participants = int64_t(rows.size());
  if (rows.size() != changes.size()) {
    e.reason = "standings and rating changes disagree (" + std::to_string(rows.size()) +
               " rated rows vs " + std::to_string(changes.size()) + " rating changes)";
    return e;
  }
  if (int64_t(rows.size()) <= rules.min_participants) {
    e.reason = "only " + std::to_string(rows.size()) +
               " rated participants (CodeElo needs more than " +
               std::to_string(rules.min_participants) + ")";
    return e;
  }
  for (const auto& c : changes) e.max_old_rating = std::max(e.max_old_rating, c.old_rating);

  for (const auto& p : st.problems) {
    auto it = accepted.find(p.index);
    if (it == accepted.end()) continue;
    size_t n = std::min<size_t>(it->second.size(), size_t(std::max(rules.attempts, 0)));
    for (size_t i = 0; i < n; ++i) {
      if (!it->second[i]) continue;
      if (p.points) {
        e.score += std::max(0.0, *p.points - rules.points_per_wrong * double(i));
      } else {
        e.score += 1;
        e.penalty += double(i) * rules.penalty_per_wrong;
      }
      break;
    }
  }

  int64_t n = int64_t(rows.size());
  e.rank = n;
  for (int64_t i = 0; i < n; ++i) {
    const auto& r = *rows[size_t(i)];
    if (r.points < e.score || (r.points == e.score && r.penalty > e.penalty)) {
      e.rank = i;
      break;
    }
  }

  // Largest m in [0, max_old_rating + 100) with seed(m) >= rank, by the reference's bisection.
  int64_t lo = 0, hi = int64_t(e.max_old_rating) + 100;
  while (hi - lo > 1) {
    int64_t mid = (lo + hi) / 2;
    double seed = 1;
    for (const auto& c : changes)
      seed += 1 / (1 + std::pow(10.0, (double(mid) - c.old_rating) / 400));
    if (seed < double(e.rank)) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  e.rating = lo;
  e.rated = true;
  return e;
}

double python_round1(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f", x);  // glibc: correctly rounded, ties to even
  return std::strtod(buf, nullptr);
}

double codeelo_percentile(const std::vector<double>& sorted, double rating) {
  if (sorted.empty()) return 0;
  auto it = std::lower_bound(sorted.begin(), sorted.end(), rating);
  double idx = double(it - sorted.begin());
  return python_round1(idx / double(sorted.size()) * 100);
}

}  // namespace v4eval::cf
