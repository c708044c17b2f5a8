// Maps a suite spec's name to its implementation.
#include "suites/mrcr/mrcr_suite.h"
#include "suites/suite.h"

namespace v4eval {

Result<std::unique_ptr<Suite>> make_suite(const Spec& spec) {
  if (spec.kind == "mrcr") return mrcr::make_mrcr_suite(spec);
  std::string known;
  for (const auto& d : suite_docs()) known += (known.empty() ? "" : ", ") + d.name;
  return InvalidArgument("unknown suite '" + spec.kind + "' (known: " + known + ")");
}

std::vector<SuiteDoc> suite_docs() { return {mrcr::mrcr_doc()}; }

}  // namespace v4eval
