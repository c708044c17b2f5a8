#include <catch2/catch.hpp>

#include "harness/hash.h"
#include "harness/stats.h"
#include "harness/types.h"

using namespace v4eval;

TEST_CASE("spec parsing: kind, options, comma continuation, errors", "[spec]") {
  std::string err;
  auto s = parse_spec("mrcr:file=data/x.jsonl,needles=2,4,max_tokens=9", &err);
  REQUIRE(s);
  CHECK(s->kind == "mrcr");
  CHECK(s->get("file") == "data/x.jsonl");
  CHECK(s->get("needles") == "2,4");
  CHECK(s->get("max_tokens") == "9");
  CHECK(s->to_string() == "mrcr:file=data/x.jsonl,needles=2,4,max_tokens=9");
  CHECK(parse_spec("replay", &err)->options.empty());
  CHECK_FALSE(parse_spec(":file=x", &err));
  CHECK_FALSE(parse_spec("mrcr:file", &err));
  CHECK(err.find("no '='") != std::string::npos);
  CHECK_FALSE(parse_spec("mrcr:file=a,file=b", &err));
  CHECK(err.find("twice") != std::string::npos);
}

TEST_CASE("modes round-trip by name", "[types]") {
  for (Mode m : {Mode::kNonThink, Mode::kThinkHigh, Mode::kThinkMax})
    CHECK(parse_mode(mode_name(m)) == m);
  CHECK_FALSE(parse_mode("think"));
}

TEST_CASE("sha256 matches FIPS 180-4 test vectors", "[hash]") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  Sha256 h;  // incremental updates across block boundaries equal one-shot
  std::string million(1000000, 'a');
  for (size_t i = 0; i < million.size(); i += 777) h.update(std::string_view(million).substr(i, 777));
  CHECK(h.hex_digest() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("student t quantiles against tables", "[stats]") {
  CHECK(student_t_quantile(0.975, 1) == Approx(12.7062).epsilon(1e-4));
  CHECK(student_t_quantile(0.975, 2) == Approx(4.3027).epsilon(1e-4));
  CHECK(student_t_quantile(0.975, 5) == Approx(2.5706).epsilon(1e-4));
  CHECK(student_t_quantile(0.975, 10) == Approx(2.2281).epsilon(1e-4));
  CHECK(student_t_quantile(0.975, 30) == Approx(2.0423).epsilon(1e-4));
  CHECK(student_t_quantile(0.975, 1000) == Approx(1.9623).epsilon(1e-4));
}

TEST_CASE("mean metric clusters repeats by sample", "[stats]") {
  // Two samples, sample a repeated 3 times: the mean is over per-sample means.
  auto m = mean_metric("score", {{"a", 1.0}, {"a", 1.0}, {"a", 0.0}, {"b", 0.0}});
  CHECK(m.n == 2);
  CHECK(m.value == Approx((2.0 / 3.0 + 0.0) / 2));
  // Hand-computed: means {0.4, 0.5, 0.6}: mean 0.5, sd 0.1, se 0.057735, t(2)=4.30265.
  auto k = mean_metric("x", {{"1", 0.4}, {"2", 0.5}, {"3", 0.6}});
  CHECK(k.value == Approx(0.5));
  CHECK(k.ci_low == Approx(0.5 - 4.30265 * 0.1 / std::sqrt(3.0)).epsilon(1e-4));
  CHECK(k.ci_high == Approx(0.5 + 4.30265 * 0.1 / std::sqrt(3.0)).epsilon(1e-4));
  // Clipped to [0, 1].
  auto c = mean_metric("x", {{"1", 0.0}, {"2", 0.0}, {"3", 0.3}});
  CHECK(c.ci_low == 0.0);
  auto one = mean_metric("x", {{"a", 0.5}});
  CHECK(one.ci_low == 0.0);
  CHECK(one.ci_high == 1.0);
}

TEST_CASE("wilson interval against a hand-worked value", "[stats]") {
  // k=8, n=10: Wilson 95% = [0.4902, 0.9433] (Newcombe 1998 style worked example).
  auto m = wilson_metric("acc", 8, 10);
  CHECK(m.value == Approx(0.8));
  CHECK(m.ci_low == Approx(0.4902).epsilon(1e-3));
  CHECK(m.ci_high == Approx(0.9433).epsilon(1e-3));
  auto z = wilson_metric("acc", 0, 20);
  CHECK(z.ci_low == 0.0);
  CHECK(z.ci_high == Approx(0.1611).epsilon(1e-3));
}
