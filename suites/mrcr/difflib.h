#pragma once
// An exact port of CPython's difflib.SequenceMatcher (isjunk=None) over Unicode code points:
// the similarity MRCR's official grader uses (suites.md §5). "Exact" means the same matching
// blocks and the bit-identical ratio, including the autojunk heuristic that makes the ratio
// differ from a true LCS and depend on the order of (a, b).

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace v4eval::mrcr {

// a[a .. a+size) == b[b .. b+size); difflib's Match(a, b, size).
struct MatchingBlock {
  size_t a = 0;
  size_t b = 0;
  size_t size = 0;
  friend bool operator==(const MatchingBlock&, const MatchingBlock&) = default;
};

// difflib.SequenceMatcher(None, a, b, autojunk) over Unicode code points. Immutable after
// construction, so const methods may be called from several threads at once. Memory is
// O(len(a) + len(b)); time is that of CPython (roughly len(a) times the number of b positions
// of each a character, which autojunk bounds to len(b)/100 + 1 when len(b) >= 200).
class SequenceMatcher {
 public:
  SequenceMatcher(std::u32string_view a, std::u32string_view b, bool autojunk = true);

  // The leftmost-longest block in a[alo:ahi] x b[blo:bhi] exactly as CPython picks it:
  // longest match not anchored on "popular" elements, ties to the smallest i then j, then
  // extended by equal elements on both sides. (alo, blo, 0) when nothing matches.
  // Requires alo <= ahi <= len(a) and blo <= bhi <= len(b).
  MatchingBlock find_longest_match(size_t alo, size_t ahi, size_t blo, size_t bhi) const;

  // Blocks ascending in a and b, adjacent blocks collapsed, ending with the sentinel
  // (len(a), len(b), 0) - the same list CPython returns.
  std::vector<MatchingBlock> get_matching_blocks() const;

  // 2*M / (len(a) + len(b)) with M the matched code points; 1.0 when both are empty.
  double ratio() const;

 private:
  struct Rows;  // the j2len / newj2len scratch of find_longest_match
  MatchingBlock longest_match(size_t alo, size_t ahi, size_t blo, size_t bhi, Rows& rows) const;

  std::u32string a_;
  std::u32string b_;
  // b2j: for each non-popular element of b, its positions in b ascending. a_to_list_[i] is the
  // index in b_positions_ of a[i]'s list, or kNoList when a[i] is absent from b or popular.
  static constexpr size_t kNoList = static_cast<size_t>(-1);
  std::vector<std::vector<size_t>> b_positions_;
  std::vector<size_t> a_to_list_;
};

// SequenceMatcher(a, b, autojunk).ratio().
double sequence_matcher_ratio(std::u32string_view a, std::u32string_view b, bool autojunk = true);

}  // namespace v4eval::mrcr
