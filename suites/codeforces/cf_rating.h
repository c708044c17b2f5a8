#pragma once
// CodeElo's Codeforces rating estimate (QwenLM/CodeElo calc_rating.py, arXiv 2501.01257;
// suites.md §2.1): per contest, the model's score from the index of its first accepted attempt
// on each problem, its rank among the rated participants of the official standings, and the
// rating m whose expected seed 1 + sum_i 1/(1 + 10^((m - r_i)/400)) still reaches that rank;
// the final Elo is the mean over contests, the percentile its position among all user ratings.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "harness/status.h"
#include "harness/types.h"

namespace v4eval::cf {

// What calc_rating.py reads from the Codeforces API for one contest.
struct ContestStandings {
  int64_t contest_id = 0;
  std::string name;
  struct Problem {
    std::string index;             // "A", "B1", ...
    std::optional<double> points;  // score-based rounds; absent in ICPC-style rounds
  };
  std::vector<Problem> problems;
  struct Row {
    std::string handle;  // party.members[0].handle
    double points = 0;
    double penalty = 0;
  };
  std::vector<Row> rows;  // official standings, in rank order
  struct Change {
    std::string handle;
    double old_rating = 0;
  };
  std::vector<Change> rating_changes;
};

// From the JSON the API returns for contest.standings?contestId=C&showUnofficial=false and
// contest.ratingChanges?contestId=C (either the whole {"status","result"} reply or `result`).
Result<ContestStandings> parse_codeforces_api(const Json& standings, const Json& rating_changes,
                                              const std::string& where);

struct RatingRules {
  int attempts = 8;                // attempts per problem counted (CodeElo: 8)
  double points_per_wrong = 50;    // score rounds: max(0, points - 50 * i)
  double penalty_per_wrong = 10;   // ICPC rounds: 10 penalty minutes per earlier attempt
  int64_t min_participants = 200;  // CodeElo: more than 200 rated participants, else no rating
};

struct ContestEstimate {
  bool rated = false;
  std::string reason;  // why there is no rating (set when !rated)
  double score = 0;
  double penalty = 0;
  int64_t rank = 0;  // 0-based index of the first participant strictly worse
  int64_t participants = 0;
  double max_old_rating = 0;
  int64_t rating = 0;
};

// `accepted`: problem index -> whether each attempt, in submission order, was accepted.
ContestEstimate estimate_contest_rating(const ContestStandings& standings,
                                        const std::map<std::string, std::vector<bool>>& accepted,
                                        const RatingRules& rules = {});

// round(100 * bisect_left(sorted, rating) / len(sorted), 1), as get_percentile.
double codeelo_percentile(const std::vector<double>& sorted_ratings, double rating);

// Python's round(x, 1) for the values get_percentile produces (correctly rounded, ties to even
// on the exact binary value).
double python_round1(double x);

}  // namespace v4eval::cf
