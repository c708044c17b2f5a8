// Follows CPython 3.11.7 Lib/difflib.py (SequenceMatcher.__chain_b, find_longest_match,
// get_matching_blocks, _calculate_ratio) statement by statement, with isjunk=None. These
// functions are identical in a post-3.14 cpython main snapshot (commit 003730fc, the one with
// unified_diff(color=...)): later changes touched docstrings, Differ._fancy_replace
// (gh-119105) and diff options, not matching; a suffix-automaton rewrite (gh-144132) was
// closed unmerged. So results do not depend on the Python version from 3.9 on.
#include "suites/mrcr/difflib.h"

#include <algorithm>
#include <tuple>
#include <unordered_map>
#include <utility>

namespace v4eval::mrcr {

// CPython keeps j2len as a dict {j: length of the match ending at a[i-1], b[j]} and builds a
// fresh dict per i. Here both rows are arrays over b indexed by j + 1 (so "j - 1" of j = 0
// is slot 0, always 0), and only the slots a row touched are reset: O(len(b)) memory, no
// hashing, and no O(len(b)) clearing per i.
struct SequenceMatcher::Rows {
  explicit Rows(size_t lb) : previous(lb + 1, 0), current(lb + 1, 0) {}
  std::vector<size_t> previous;
  std::vector<size_t> current;
  std::vector<size_t> previous_touched;
  std::vector<size_t> current_touched;
};

SequenceMatcher::SequenceMatcher(std::u32string_view a, std::u32string_view b, bool autojunk)
    : a_(a), b_(b) {
  // __chain_b: b2j[elt] = positions of elt in b, ascending.
  std::unordered_map<char32_t, size_t> list_of;
  for (size_t j = 0; j < b_.size(); ++j) {
    auto [it, inserted] = list_of.try_emplace(b_[j], b_positions_.size());
    if (inserted) b_positions_.emplace_back();
    b_positions_[it->second].push_back(j);
  }
  // isjunk is None, so bjunk is empty. Popular elements (more than n//100 + 1 occurrences
  // when n >= 200) leave b2j but are NOT junk: find_longest_match still extends over them.
  const size_t n = b_.size();
  if (autojunk && n >= 200) {
    const size_t ntest = n / 100 + 1;
    for (auto it = list_of.begin(); it != list_of.end();) {
      if (b_positions_[it->second].size() > ntest) {
        b_positions_[it->second] = {};
        it = list_of.erase(it);
      } else {
        ++it;
      }
    }
  }
  a_to_list_.resize(a_.size(), kNoList);
  for (size_t i = 0; i < a_.size(); ++i) {
    if (auto it = list_of.find(a_[i]); it != list_of.end()) a_to_list_[i] = it->second;
  }
}

MatchingBlock SequenceMatcher::find_longest_match(size_t alo, size_t ahi, size_t blo,
                                                  size_t bhi) const {
  Rows rows(b_.size());
  return longest_match(alo, ahi, blo, bhi, rows);
}

MatchingBlock SequenceMatcher::longest_match(size_t alo, size_t ahi, size_t blo, size_t bhi,
                                             Rows& rows) const {
  size_t besti = alo;
  size_t bestj = blo;
  size_t bestsize = 0;
  // Longest match free of popular elements; "k > bestsize" keeps the first one found, i.e.
  // the smallest i and, for that i, the smallest j (b2j lists are ascending).
  for (size_t i = alo; i < ahi; ++i) {
    if (a_to_list_[i] != kNoList) {
      const std::vector<size_t>& positions = b_positions_[a_to_list_[i]];
      // CPython skips j < blo one by one ("continue") and stops at j >= bhi ("break").
      for (auto it = std::lower_bound(positions.begin(), positions.end(), blo);
           it != positions.end() && *it < bhi; ++it) {
        const size_t j = *it;
        const size_t k = rows.previous[j] + 1;  // j2len.get(j - 1, 0) + 1
        rows.current[j + 1] = k;
        rows.current_touched.push_back(j + 1);
        if (k > bestsize) {
          besti = i + 1 - k;
          bestj = j + 1 - k;
          bestsize = k;
        }
      }
    }
    // j2len = newj2len
    for (size_t slot : rows.previous_touched) rows.previous[slot] = 0;
    rows.previous_touched.clear();
    std::swap(rows.previous, rows.current);
    std::swap(rows.previous_touched, rows.current_touched);
  }
  for (size_t slot : rows.previous_touched) rows.previous[slot] = 0;
  rows.previous_touched.clear();

  // Extend by equal non-junk elements on each end; this is what lets popular elements
  // match. The two "suck up matching junk" loops of CPython never run: bjunk is empty.
  while (besti > alo && bestj > blo && a_[besti - 1] == b_[bestj - 1]) {
    --besti;
    --bestj;
    ++bestsize;
  }
  while (besti + bestsize < ahi && bestj + bestsize < bhi &&
         a_[besti + bestsize] == b_[bestj + bestsize]) {
    ++bestsize;
  }
  return {besti, bestj, bestsize};
}

std::vector<MatchingBlock> SequenceMatcher::get_matching_blocks() const {
  const size_t la = a_.size();
  const size_t lb = b_.size();
  Rows rows(lb);
  struct Range {
    size_t alo, ahi, blo, bhi;
  };
  // CPython's explicit stack ("queue", popped from the end) instead of recursion.
  std::vector<Range> queue{{0, la, 0, lb}};
  std::vector<MatchingBlock> blocks;
  while (!queue.empty()) {
    const Range r = queue.back();
    queue.pop_back();
    const MatchingBlock x = longest_match(r.alo, r.ahi, r.blo, r.bhi, rows);
    if (x.size == 0) continue;
    blocks.push_back(x);
    if (r.alo < x.a && r.blo < x.b) queue.push_back({r.alo, x.a, r.blo, x.b});
    if (x.a + x.size < r.ahi && x.b + x.size < r.bhi) {
      queue.push_back({x.a + x.size, r.ahi, x.b + x.size, r.bhi});
    }
  }
  std::sort(blocks.begin(), blocks.end(), [](const MatchingBlock& l, const MatchingBlock& r) {
    return std::tie(l.a, l.b, l.size) < std::tie(r.a, r.b, r.size);
  });

  // Collapse adjacent blocks, starting from the dummy (0, 0, 0).
  std::vector<MatchingBlock> non_adjacent;
  MatchingBlock pending{0, 0, 0};
  for (const MatchingBlock& next : blocks) {
    if (pending.a + pending.size == next.a && pending.b + pending.size == next.b) {
      pending.size += next.size;
    } else {
      if (pending.size != 0) non_adjacent.push_back(pending);
      pending = next;
    }
  }
  if (pending.size != 0) non_adjacent.push_back(pending);
  non_adjacent.push_back({la, lb, 0});
  return non_adjacent;
}

double SequenceMatcher::ratio() const {
  size_t matches = 0;
  for (const MatchingBlock& block : get_matching_blocks()) matches += block.size;
  const size_t length = a_.size() + b_.size();
  // _calculate_ratio: 2.0 * matches / length, both exact in a double.
  if (length == 0) return 1.0;
  return 2.0 * static_cast<double>(matches) / static_cast<double>(length);
}

double sequence_matcher_ratio(std::u32string_view a, std::u32string_view b, bool autojunk) {
  return SequenceMatcher(a, b, autojunk).ratio();
}

}  // namespace v4eval::mrcr
