#include "reports/run_data.h"

#include <algorithm>
#include <cctype>
#include <numeric>

namespace v4eval {

Distribution summarize(std::vector<double> values) {
  Distribution d;
  d.count = int64_t(values.size());
  if (values.empty()) return d;
  d.mean = std::accumulate(values.begin(), values.end(), 0.0) / double(values.size());
  auto at = [&](double q) {
    size_t i = size_t(q * double(values.size() - 1) + 0.5);
    std::nth_element(values.begin(), values.begin() + i, values.end());
    return values[i];
  };
  d.p50 = at(0.5);
  d.p90 = at(0.9);
  d.max = *std::max_element(values.begin(), values.end());
  return d;
}

std::string error_class(const std::string& stage, const std::string& message) {
  // The message's leading words, stopping at the first specific one (a path, a file name, a
  // key=value, a quoted part), numbers blanked, at most six words: enough to group "HTTP 429 ..."
  // or "no recorded generation in FILE ..." without the specifics.
  std::string head;
  size_t i = 0;
  int words = 0;
  while (i < message.size() && words < 6) {
    while (i < message.size() && std::isspace(static_cast<unsigned char>(message[i]))) ++i;
    size_t start = i;
    while (i < message.size() && !std::isspace(static_cast<unsigned char>(message[i]))) ++i;
    std::string word = message.substr(start, i - start);
    if (word.empty()) break;
    bool specific = word.find_first_of("./\\=\"'`([{<") != std::string::npos;
    bool last = false;
    if (!specific && (word.back() == ':' || word.back() == ',' || word.back() == ';')) {
      word.pop_back();
      last = true;
    }
    if (specific || word.empty()) break;
    for (auto& ch : word)
      if (std::isdigit(static_cast<unsigned char>(ch))) ch = '#';
    head += (head.empty() ? "" : " ") + word;
    ++words;
    if (last) break;
  }
  // Drop a trailing preposition left by the cut ("... generation in").
  for (const char* tail : {" in", " for", " at", " of", " to", " from", " with"}) {
    std::string t = tail;
    if (head.size() > t.size() && head.compare(head.size() - t.size(), t.size(), t) == 0) {
      head.resize(head.size() - t.size());
      break;
    }
  }
  if (head.empty()) head = "error";
  return (stage.empty() ? std::string("error") : stage) + ": " + head;
}

}  // namespace v4eval
