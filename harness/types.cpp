#include "harness/types.h"

#include <algorithm>
#include <cmath>

#include "harness/retry.h"

namespace v4eval {

double backoff_delay_s(int retry, double base_s, double max_s, double jitter01,
                       std::optional<double> retry_after_s) {
  double d = std::min(max_s, base_s * std::ldexp(1.0, std::max(0, retry - 1)));
  d *= 0.5 + 0.5 * std::clamp(jitter01, 0.0, 1.0);
  if (retry_after_s) d = std::max(d, *retry_after_s);
  return d;
}

std::string_view mode_name(Mode mode) {
  switch (mode) {
    case Mode::kNonThink: return "non-think";
    case Mode::kThinkHigh: return "think-high";
    case Mode::kThinkMax: return "think-max";
  }
  return "?";
}

std::optional<Mode> parse_mode(std::string_view name) {
  if (name == "non-think") return Mode::kNonThink;
  if (name == "think-high") return Mode::kThinkHigh;
  if (name == "think-max") return Mode::kThinkMax;
  return std::nullopt;
}

std::optional<std::string> Spec::get(std::string_view key) const {
  for (const auto& [k, v] : options)
    if (k == key) return v;
  return std::nullopt;
}

std::string Spec::to_string() const {
  std::string out = kind;
  for (size_t i = 0; i < options.size(); ++i) {
    out += i == 0 ? ':' : ',';
    out += options[i].first + "=" + options[i].second;
  }
  return out;
}

std::optional<Spec> parse_spec(std::string_view text, std::string* error) {
  Spec spec;
  size_t colon = text.find(':');
  spec.kind = std::string(text.substr(0, colon));
  if (spec.kind.empty()) {
    if (error) *error = "empty kind in spec '" + std::string(text) + "'";
    return std::nullopt;
  }
  if (colon == std::string_view::npos) return spec;
  std::string_view rest = text.substr(colon + 1);
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view piece = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    size_t eq = piece.find('=');
    if (eq == std::string_view::npos) {
      if (spec.options.empty()) {
        if (error) *error = "option '" + std::string(piece) + "' has no '=' in spec '" +
                            std::string(text) + "'";
        return std::nullopt;
      }
      spec.options.back().second += "," + std::string(piece);
      continue;
    }
    std::string key(piece.substr(0, eq));
    if (key.empty()) {
      if (error) *error = "empty option name in spec '" + std::string(text) + "'";
      return std::nullopt;
    }
    if (spec.get(key)) {
      if (error) *error = "option '" + key + "' given twice in spec '" + std::string(text) + "'";
      return std::nullopt;
    }
    spec.options.emplace_back(std::move(key), std::string(piece.substr(eq + 1)));
  }
  return spec;
}

}  // namespace v4eval
