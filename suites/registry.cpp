// Maps a suite spec's name to its implementation.
#include <sstream>
#include <stdexcept>
#include <string>

#include "suites/codeforces/cf_suite.h"
#include "suites/corpusqa/corpusqa_suite.h"
#include "suites/livecodebench/lcb_suite.h"
#include "suites/mrcr/mrcr_suite.h"
#include "suites/simpleqa/simpleqa_suite.h"
#include "suites/suite.h"

namespace v4eval {

Result<std::unique_ptr<Suite>> make_suite(const Spec& spec) {
  if (spec.kind == "mrcr") return mrcr::make_mrcr_suite(spec);
  if (spec.kind == "simpleqa") return simpleqa::make_simpleqa_suite(spec);
  if (spec.kind == "chinese_simpleqa") return simpleqa::make_chinese_simpleqa_suite(spec);
  if (spec.kind == "corpusqa") return corpusqa::make_corpusqa_suite(spec);
  if (spec.kind == "livecodebench") return lcb::make_livecodebench_suite(spec);
  if (spec.kind == "codeforces") return cf::make_codeforces_suite(spec);
  std::string known;
  for (const auto& d : suite_docs()) known += (known.empty() ? "" : ", ") + d.name;
  return InvalidArgument("unknown suite '" + spec.kind + "' (known: " + known + ")");
}

std::vector<SuiteDoc> suite_docs() {
  return {mrcr::mrcr_doc(), simpleqa::simpleqa_doc(), simpleqa::chinese_simpleqa_doc(),
          corpusqa::corpusqa_doc(), lcb::livecodebench_doc(), cf::codeforces_doc()};
}

Result<double> option_number(std::string_view suite, const std::string& key,
                             const std::string& value, double lo, double hi) {
  try {
    size_t used = 0;
    double x = std::stod(value, &used);
    if (used == value.size() && x >= lo && x <= hi) return x;
  } catch (const std::exception&) {
  }
  std::ostringstream range;  // shortest form: [1, 3600], [1e-09, 1]
  range << "[" << lo << ", " << hi << "]";
  return InvalidArgument(std::string(suite) + ": " + key + " must be a number in " + range.str() +
                         ", got '" + value + "'");
}

Result<int64_t> option_integer(std::string_view suite, const std::string& key,
                               const std::string& value, int64_t lo, int64_t hi) {
  auto x = option_number(suite, key, value, double(lo), double(hi));
  if (!x.ok()) return x.status();
  if (*x != double(int64_t(*x)))
    return InvalidArgument(std::string(suite) + ": " + key + " must be an integer, got '" + value +
                           "'");
  return int64_t(*x);
}

}  // namespace v4eval
