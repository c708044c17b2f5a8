// Maps a suite spec's name to its implementation.
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

}  // namespace v4eval
