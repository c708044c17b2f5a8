// `v4eval suites`: what each suite measures, its options, metrics and data.

#include <cstdio>

#include "harness/cli/args.h"
#include "harness/cli/commands.h"
#include "suites/suite.h"

namespace v4eval::cli {

int cmd_suites(const Argv& argv) {
  Args args("suites", "[--json]", {{"json", "", "machine-readable output on stdout"}});
  if (auto s = args.parse(argv); !s.ok()) return fail(s.message(), kExitBadInput);
  if (args.help_requested()) {
    std::fputs(args.usage().c_str(), stdout);
    return kExitOk;
  }
  auto docs = suite_docs();
  if (args.has("json")) {
    Json out = Json::array();
    for (const auto& d : docs) {
      Json options = Json::object(), metrics = Json::object();
      for (const auto& [k, v] : d.options) options[k] = v;
      for (const auto& [k, v] : d.metrics) metrics[k] = v;
      out.push_back({{"name", d.name}, {"version", d.version}, {"description", d.description},
                     {"options", options}, {"metrics", metrics}, {"data", d.data}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return kExitOk;
  }
  for (const auto& d : docs) {
    std::printf("%s (version %s)\n  %s\n  options:\n", d.name.c_str(), d.version.c_str(),
                d.description.c_str());
    for (const auto& [k, v] : d.options) std::printf("    %-12s %s\n", k.c_str(), v.c_str());
    std::printf("  metrics:\n");
    for (const auto& [k, v] : d.metrics) std::printf("    %-22s %s\n", k.c_str(), v.c_str());
    std::printf("  data: %s\n\n", d.data.c_str());
  }
  return kExitOk;
}

}  // namespace v4eval::cli
