// The Sandbox service from the harness's side: one launcher, a slot pool, many threads judging
// at once (as the code suites will), one compile per submission, per-test facts.

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <thread>
#include <vector>

#include "sandbox/sandbox.h"

using namespace v4eval::sandbox;

namespace {

const char* kSumCpp = R"(#include <cstdio>
int main() { long long a, b; if (std::scanf("%lld %lld", &a, &b) != 2) return 1; std::printf("%lld\n", a + b); })";
const char* kSumPy = "a, b = map(int, input().split())\nprint(a + b)\n";

JudgeRequest sum_request(const char* language, const char* source, int tests, bool with_wrong) {
  JudgeRequest r;
  r.solution.language = language;
  r.solution.source = source;
  for (int i = 0; i < tests; ++i) {
    int a = i * 7, b = i * 13;
    bool wrong = with_wrong && i == tests - 1;
    r.tests.push_back({std::to_string(a) + " " + std::to_string(b) + "\n",
                       std::to_string(a + b + (wrong ? 1 : 0)) + "\n"});
  }
  r.limits.cpu_time_ms = 2000;
  return r;
}

// The service, or null (with a warning) on a machine with no isolation tier.
std::unique_ptr<Sandbox> start(int slots) {
  SandboxOptions o;
  o.slots = slots;
  auto s = Sandbox::start(o);
  if (!s.ok()) {
    WARN("no sandbox on this machine: " << s.status().message());
    return nullptr;
  }
  return std::move(*s);
}

}  // namespace

TEST_CASE("sandbox: many threads share the slot pool", "[sandbox]") {
  auto box = start(2);
  if (!box) return;
  CHECK(box->slots() == 2);
  CHECK(box->launcher_pid() > 0);
  CHECK(!box->tier().summary().empty());
  std::vector<JudgeReport> reports(8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      bool cpp = t % 2 == 0;
      reports[t] =
          box->judge(sum_request(cpp ? "cpp" : "python", cpp ? kSumCpp : kSumPy, 5, t % 4 == 1));
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < 8; ++t) {
    INFO("thread " << t << ": " << reports[t].detail);
    const JudgeReport& r = reports[t];
    REQUIRE(r.tests.size() == 5);
    if (t % 4 == 1) {
      CHECK(r.verdict == Verdict::kWrongAnswer);
      CHECK(r.tests[4].verdict == Verdict::kWrongAnswer);
    } else {
      CHECK(r.verdict == Verdict::kAccepted);
    }
    for (size_t i = 0; i + 1 < r.tests.size(); ++i) {
      CHECK(r.tests[i].verdict == Verdict::kAccepted);
      CHECK(r.tests[i].exit_code == 0);
      CHECK(r.tests[i].memory_kb > 0);
      CHECK(r.tests[i].attempts == 1);
    }
    CHECK(r.internal_retries == 0);
  }
  // The same C++ source was compiled once; the other three submissions hit the cache.
  int compiled = 0;
  for (int t = 0; t < 8; t += 2) compiled += reports[t].compile.cached ? 0 : 1;
  CHECK(compiled <= 2);  // at most one per slot racing on the first compile
}

TEST_CASE("sandbox: limits of the request are enforced per test", "[sandbox]") {
  auto box = start(1);
  if (!box) return;
  JudgeRequest r;
  r.solution.language = "python";
  r.solution.source = "import sys\nn = int(input())\nx = bytearray(n << 20)\nprint(len(x) >> 20)\n";
  r.tests = {{"8\n", "8\n"}, {"400\n", "400\n"}};
  r.limits.memory_bytes = 128ll << 20;
  JudgeReport rep = box->judge(r);
  REQUIRE(rep.tests.size() == 2);
  CHECK(rep.tests[0].verdict == Verdict::kAccepted);
  CHECK(rep.tests[1].verdict == Verdict::kMemoryLimit);
  CHECK(rep.verdict == Verdict::kMemoryLimit);

  JudgeRequest spin;
  spin.solution.language = "cpp";
  spin.solution.source = "int main() { volatile unsigned x = 0; for (;;) ++x; }";
  spin.tests = {{"", ""}, {"", ""}};
  spin.limits.cpu_time_ms = 200;
  rep = box->judge(spin);
  CHECK(rep.verdict == Verdict::kTimeLimit);
  CHECK(rep.tests[0].cpu_ms >= 200);
  CHECK(rep.tests[1].verdict == Verdict::kSkipped);  // stops at the first failure
}

TEST_CASE("sandbox: a bad request is an IE value, not a crash", "[sandbox]") {
  auto box = start(1);
  if (!box) return;
  JudgeRequest r = sum_request("cobol", "IDENTIFICATION DIVISION.", 2, false);
  JudgeReport rep = box->judge(r);
  CHECK(rep.verdict == Verdict::kInternalError);
  CHECK(rep.detail.find("unknown language") != std::string::npos);
  CHECK(rep.tests.size() == 2);
  // The service is still fine afterwards.
  CHECK(box->judge(sum_request("python", kSumPy, 1, false)).verdict == Verdict::kAccepted);
}
