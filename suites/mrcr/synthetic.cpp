#include "suites/mrcr/synthetic.h"

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace v4eval::mrcr {
namespace {

// The size estimate, o200k_base tokens from characters. Calibrated with npm tiktoken 1.0.22
// (encode_ordinary, o200k_base) on 24 generated rows (2/4/8 needles x 4K/16K/100K/1M targets
// x 2 seeds), counting each message content and the answer separately as the MRCR README
// does. Characters per token: replies 4.67 (play: upper-case names) .. 5.03 (essays, stories),
// see kFormats; "write a ... about ..." requests 4.99; the few-shot block 4.49; the random
// prefix ~7.5 tokens for 10 characters. A single figure (4.92 over all characters) left 4K
// rows up to +7 % off when the needle was a play or poem; with these figures 36 rows (3 more
// seeds) measured -1.0 % .. +3.4 % of target, 1M-token rows within ±1 %.
constexpr double kRequestCharsPerToken = 4.99;
constexpr double kFewShotCharsPerToken = 4.49;
constexpr double kPrefixTokens = 7.5;

// splitmix64, and range reduction by modulo: the same bytes on every platform and standard
// library (std::uniform_int_distribution is implementation-defined).
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  size_t below(size_t n) { return static_cast<size_t>(next() % n); }
  bool chance(int percent) { return below(100) < static_cast<size_t>(percent); }
  template <size_t N>
  std::string_view pick(const std::string_view (&items)[N]) {
    return items[below(N)];
  }

 private:
  uint64_t state_;
};

using Words = std::string_view;

// clang-format off
constexpr Words kFormats[] = {
    "poem", "riddle", "short essay", "blog post", "social media post", "play", "short story",
    "letter"};
// clang-format on
// Characters per o200k_base token of the replies in each format, in kFormats' order.
constexpr double kReplyCharsPerToken[] = {4.71, 4.93, 5.03, 4.91, 5.01, 4.67, 5.03, 5.02};
static_assert(std::size(kReplyCharsPerToken) == std::size(kFormats));

double reply_tokens(std::string_view format, const std::string& reply) {
  const auto* it = std::find(std::begin(kFormats), std::end(kFormats), format);
  const double chars_per_token = kReplyCharsPerToken[it - std::begin(kFormats)];
  return static_cast<double>(reply.size()) / chars_per_token;
}

// clang-format off
constexpr Words kTopics[] = {
    "tapirs", "lighthouses", "sourdough bread", "the northern lights", "bicycles", "thunderstorms",
    "chess", "honeybees", "old libraries", "volcanoes", "coffee", "glaciers", "paper airplanes",
    "the moon", "jazz", "city parks", "octopuses", "train stations", "autumn leaves", "lost keys",
    "wind turbines", "grandmothers", "desert nights", "kites", "coral reefs", "typewriters",
    "mountain villages", "fireflies", "rainy Mondays", "owls", "street markets", "submarines",
    "snowmen", "violins", "tea ceremonies", "clocks", "sunflowers", "the ocean", "hot air balloons",
    "penguins", "bakeries", "starlight", "rivers", "childhood", "dragons", "robots", "friendship",
    "gardening", "maps", "foxes", "lanterns", "winter mornings", "pirates", "bridges", "mushrooms",
    "museums", "deserts", "whales", "fountain pens", "summer camp", "the color blue", "elephants",
    "harbors", "quiet forests", "pancakes", "comets", "neighbors", "old photographs", "cats",
    "rainbows", "carousels", "tide pools"};

constexpr Words kNouns[] = {
    "river", "window", "garden", "morning", "shadow", "journey", "voice", "field", "stone",
    "letter", "harbor", "lantern", "road", "city", "memory", "forest", "song", "door", "sky",
    "table", "story", "friend", "village", "mountain", "candle", "season", "bridge", "wave",
    "cloud", "promise", "evening", "kitchen", "path", "meadow", "engine", "mirror", "feather",
    "market", "island", "question", "answer", "ocean", "silence", "corner", "train", "dream",
    "moment", "valley", "storm", "blanket", "compass", "signal", "street", "history", "secret",
    "machine", "teacher", "child", "traveler", "painter", "neighbor", "stranger", "gardener",
    "sailor", "musician", "library", "station", "notebook", "horizon", "ladder", "orchard", "lake",
    "hill", "tower", "bell", "thread", "spark", "echo", "idea", "reason", "habit", "chance",
    "weather", "rhythm", "pattern", "surface", "distance", "light", "picture", "map", "key",
    "clock", "bottle", "basket", "ribbon", "coat", "boat", "wall", "roof", "fire", "snow", "rain",
    "wind", "sun", "star", "planet", "leaf", "branch", "root", "seed", "flower", "bird", "fish",
    "horse", "world", "community", "problem", "lesson"};

constexpr Words kAdjectives[] = {
    "quiet", "bright", "ancient", "gentle", "restless", "golden", "hidden", "patient", "curious",
    "silver", "broken", "warm", "cold", "distant", "simple", "careful", "wild", "small", "enormous",
    "familiar", "strange", "humble", "proud", "tired", "hopeful", "lonely", "crowded", "empty",
    "open", "narrow", "soft", "sharp", "heavy", "light", "early", "late", "honest", "clever",
    "slow", "quick", "green", "blue", "crimson", "pale", "dark", "clear", "bitter", "sweet",
    "fragile", "steady", "lucky", "ordinary", "modern", "forgotten", "secret", "shining",
    "weathered", "busy", "sleepy", "generous", "brave", "tender", "endless", "little", "wooden",
    "salty", "dusty", "fresh", "calm", "noisy", "gracious", "peculiar", "luminous", "velvet",
    "rusty", "northern", "southern", "faithful", "wandering", "silent"};

constexpr Words kVerbs[] = {
    "carried", "followed", "remembered", "watched", "painted", "built", "found", "lost", "opened",
    "closed", "crossed", "gathered", "whispered", "answered", "wandered", "shaped", "changed",
    "held", "lifted", "covered", "touched", "welcomed", "forgot", "imagined", "collected",
    "measured", "guided", "protected", "discovered", "explained", "praised", "noticed", "traced",
    "mended", "shared", "visited", "described", "borrowed", "returned", "hid", "tested", "counted",
    "lit", "warmed", "filled", "greeted", "studied", "celebrated", "questioned", "trusted",
    "admired", "reached", "crafted", "planted", "cleaned", "sang", "told", "wrote", "read", "kept",
    "left", "made", "saw", "knew", "heard", "gave", "took", "brought", "met", "chose", "caught",
    "taught", "drew", "wove", "climbed", "paused", "echoed", "framed", "softened", "steadied"};

constexpr Words kAdverbs[] = {
    "slowly", "quietly", "gently", "suddenly", "carefully", "always", "often", "rarely", "softly",
    "boldly", "patiently", "eagerly", "gladly", "barely", "nearly", "finally", "simply", "truly",
    "still", "again", "together", "alone", "somehow", "perhaps", "later", "once", "today",
    "tonight", "everywhere", "nowhere", "silently", "brightly", "warmly", "kindly", "openly",
    "calmly", "quickly", "steadily", "gracefully", "honestly"};

constexpr Words kPrepositions[] = {
    "across", "beneath", "beside", "beyond", "through", "over", "under", "around", "toward", "near",
    "behind", "along", "inside", "above", "between", "after", "before", "without", "within",
    "past"};

constexpr Words kNames[] = {
    "Anna", "Ben", "Clara", "Daniel", "Elena", "Felix", "Grace", "Hugo", "Iris", "Jonas", "Kate",
    "Leo", "Maya", "Noah", "Olivia", "Peter", "Rosa", "Sam", "Theo", "Vera", "Will", "Zoe", "Marta",
    "Oscar"};

// clang-format on

std::string upper(std::string_view word) {
  std::string out(word);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
  }
  return out;
}

std::string title_case(std::string_view words) {
  std::string out;
  bool start = true;
  for (char c : words) {
    out.push_back(start && c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c);
    start = c == ' ';
  }
  return out;
}

// Prose about `topic`: sentences from a few templates over the word lists above.
class Writer {
 public:
  Writer(Rng& rng, std::string_view topic) : rng_(rng), topic_(topic) {}

  std::string noun_phrase() {
    const std::string_view adjective = rng_.chance(45) ? rng_.pick(kAdjectives) : Words();
    const std::string_view noun = rng_.pick(kNouns);
    const char first = adjective.empty() ? noun[0] : adjective[0];
    std::string out;
    const size_t roll = rng_.below(10);
    if (roll < 5) {
      out = "the ";
    } else if (roll < 8) {
      out = std::string_view("aeiou").find(first) == std::string_view::npos ? "a " : "an ";
    } else {
      out = roll == 8 ? "every " : "this ";
    }
    if (!adjective.empty()) out += std::string(adjective) + " ";
    out += noun;
    return out;
  }

  std::string sentence() {
    std::string s;
    switch (rng_.below(9)) {
      case 0:
        s = noun_phrase() + " " + std::string(rng_.pick(kVerbs)) + " " +
            std::string(rng_.pick(kPrepositions)) + " " + noun_phrase();
        break;
      case 1:
        s = std::string(rng_.pick(kAdverbs)) + ", " + noun_phrase() + " " +
            std::string(rng_.pick(kVerbs)) + " " + noun_phrase();
        break;
      case 2:
        s = "nobody " + std::string(rng_.pick(kVerbs)) + " " + std::string(topic_) + " like " +
            noun_phrase() + " " + std::string(rng_.pick(kPrepositions)) + " " + noun_phrase();
        break;
      case 3:
        s = "in " + noun_phrase() + ", " + std::string(topic_) + " " +
            std::string(rng_.pick(kVerbs)) + " " + noun_phrase() + " " +
            std::string(rng_.pick(kAdverbs));
        break;
      case 4:
        s = "we " + std::string(rng_.pick(kVerbs)) + " " + noun_phrase() + " and " + noun_phrase() +
            ", and " + noun_phrase() + " " + std::string(rng_.pick(kVerbs)) + " " +
            std::string(rng_.pick(kAdverbs));
        break;
      case 5:
        s = "it was " + std::string(rng_.pick(kAdjectives)) + ", " +
            std::string(rng_.pick(kAdjectives)) + " and " + std::string(rng_.pick(kAdjectives));
        break;
      case 6:
        s = noun_phrase() + " " + std::string(rng_.pick(kVerbs)) + " " + std::string(topic_) + " " +
            std::string(rng_.pick(kPrepositions)) + " " + noun_phrase();
        break;
      case 7:
        s = "some say " + std::string(topic_) + " are " + std::string(rng_.pick(kAdjectives)) +
            ", but " + noun_phrase() + " " + std::string(rng_.pick(kVerbs)) + " " + noun_phrase() +
            " anyway";
        break;
      default:
        s = "when " + noun_phrase() + " " + std::string(rng_.pick(kVerbs)) + " " + noun_phrase() +
            ", " + noun_phrase() + " " + std::string(rng_.pick(kVerbs)) + " " +
            std::string(rng_.pick(kAdverbs));
        break;
    }
    s[0] = static_cast<char>(s[0] >= 'a' && s[0] <= 'z' ? s[0] - 32 : s[0]);
    s += rng_.chance(8) ? "!" : (rng_.chance(6) ? "?" : ".");
    return s;
  }

  std::string paragraph(int sentences) {
    std::string out;
    for (int i = 0; i < sentences; ++i) {
      if (i > 0) out += ' ';
      out += sentence();
    }
    return out;
  }

  // A verse line: a short phrase, no final period.
  std::string verse_line() {
    std::string line;
    switch (rng_.below(4)) {
      case 0:
        line = noun_phrase() + " " + std::string(rng_.pick(kPrepositions)) + " " + noun_phrase();
        break;
      case 1:
        line = std::string(rng_.pick(kAdverbs)) + " " + std::string(rng_.pick(kVerbs)) + " " +
               noun_phrase();
        break;
      case 2:
        line = "O " + std::string(topic_) + ", " + std::string(rng_.pick(kAdjectives)) + " and " +
               std::string(rng_.pick(kAdjectives));
        break;
      default:
        line = noun_phrase() + " " + std::string(rng_.pick(kVerbs)) + " " +
               std::string(rng_.pick(kAdverbs));
        break;
    }
    line[0] = static_cast<char>(line[0] >= 'a' && line[0] <= 'z' ? line[0] - 32 : line[0]);
    if (rng_.chance(35)) line += ",";
    return line;
  }

  std::string title() {
    return title_case(std::string(rng_.pick(kAdjectives)) + " " + std::string(rng_.pick(kNouns)) +
                      (rng_.chance(50) ? " and " + std::string(topic_) : std::string()));
  }

 private:
  Rng& rng_;
  std::string_view topic_;
};

// An assistant reply of at least `min_chars` characters in the shape of `format`.
std::string write_reply(Rng& rng, std::string_view format, std::string_view topic,
                        size_t min_chars) {
  Writer w(rng, topic);
  std::string out;
  if (format == "poem") {
    out = "**" + w.title() + "**\n\n";
    while (out.size() < min_chars) {
      for (int line = 0; line < 4; ++line) out += w.verse_line() + "\n";
      out += "\n";
    }
  } else if (format == "riddle") {
    out = "";
    while (out.size() < min_chars) {
      out += "I " + std::string(rng.pick(kVerbs)) + " " + w.noun_phrase() + " " +
             std::string(rng.pick(kPrepositions)) + " " + w.noun_phrase() + ",\n";
      if (rng.chance(30)) out += w.sentence() + "\n";
    }
    out += "What am I?\n\n*Answer: " + std::string(topic) + ".*";
  } else if (format == "short essay" || format == "short story") {
    out = "# " + w.title() + "\n\n";
    while (out.size() < min_chars) out += w.paragraph(4 + static_cast<int>(rng.below(4))) + "\n\n";
  } else if (format == "blog post") {
    out = "# " + w.title() + "\n\n" + w.paragraph(3) + "\n\n";
    while (out.size() < min_chars) {
      out += "## " + w.title() + "\n\n" + w.paragraph(3 + static_cast<int>(rng.below(3))) + "\n\n";
      if (rng.chance(40)) {
        for (int i = 0; i < 3; ++i) out += "- " + w.sentence() + "\n";
        out += "\n";
      }
    }
  } else if (format == "social media post") {
    while (out.size() < min_chars) out += w.sentence() + " ";
    out += "#" + title_case(std::string(rng.pick(kAdjectives))) + " #" +
           title_case(std::string(rng.pick(kNouns)));
  } else if (format == "play") {
    const std::string_view first = rng.pick(kNames);
    std::string_view second = rng.pick(kNames);
    if (second == first) second = first == kNames[0] ? kNames[1] : kNames[0];
    out = "**" + w.title() + "**\n\n*Characters: " + upper(first) + ", " + upper(second) +
          "*\n\n[Scene: " + w.sentence() + "]\n\n";
    bool turn = false;
    while (out.size() < min_chars) {
      out += upper(turn ? second : first) + ": " + w.paragraph(1 + static_cast<int>(rng.below(3))) +
             "\n\n";
      turn = !turn;
    }
    out += "[Curtain.]";
  } else {  // letter
    out = "Dear " + std::string(rng.pick(kNames)) + ",\n\n";
    while (out.size() < min_chars) out += w.paragraph(3 + static_cast<int>(rng.below(4))) + "\n\n";
    out += "Warmly,\n" + std::string(rng.pick(kNames));
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

std::string ordinal(int k) {
  const int mod100 = k % 100;
  const char* suffix = "th";
  if (mod100 < 11 || mod100 > 13) {
    if (k % 10 == 1) suffix = "st";
    if (k % 10 == 2) suffix = "nd";
    if (k % 10 == 3) suffix = "rd";
  }
  return std::to_string(k) + suffix;
}

std::string request(std::string_view format, std::string_view topic) {
  return "write a " + std::string(format) + " about " + std::string(topic);
}

std::string question(std::string_view hash, int k, std::string_view format,
                     std::string_view topic) {
  return "Prepend " + std::string(hash) + " to the " + ordinal(k) + " (1 indexed) " +
         std::string(format) + " about " + std::string(topic) +
         ". Do not include any other text in your response.";
}

std::string random_prefix(Rng& rng) {
  static constexpr std::string_view kAlphanumerics =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string out;
  for (int i = 0; i < 10; ++i) out.push_back(kAlphanumerics[rng.below(kAlphanumerics.size())]);
  return out;
}

struct Key {
  std::string_view format;
  std::string_view topic;
  bool operator==(const Key&) const = default;
};

// A key other than `needle`; often sharing its format or topic, as the real distractors do.
Key distractor(Rng& rng, const Key& needle) {
  for (;;) {
    Key key{rng.pick(kFormats), rng.pick(kTopics)};
    const size_t roll = rng.below(100);
    if (roll < 25)
      key.topic = needle.topic;
    else if (roll < 40)
      key.format = needle.format;
    if (!(key == needle)) return key;
  }
}

// The few-shot block the real first user message starts with: short complete conversations
// with their follow-up question and correct answer.
std::string few_shot_block(Rng& rng, const Key& needle) {
  std::string out =
      "Here are some examples of conversations succeeded by a follow-up question answered "
      "correctly:\n\n";
  for (int example = 0; example < 2; ++example) {
    const Key target = distractor(rng, needle);
    const int repeats = 2;
    const int turns = 3;
    std::vector<std::pair<Key, std::string>> chat;
    int placed = 0;
    for (int t = 0; t < turns; ++t) {
      const bool is_target = placed < repeats && (turns - t <= repeats - placed || rng.chance(50));
      const Key key = is_target ? target : distractor(rng, target);
      if (is_target) ++placed;
      chat.emplace_back(key, write_reply(rng, key.format, key.topic, 160));
    }
    const int k = 1 + static_cast<int>(rng.below(repeats));
    const std::string hash = random_prefix(rng);
    out += "======EXAMPLE======\n";
    int seen = 0;
    std::string answer;
    for (const auto& [key, reply] : chat) {
      out += "User: " + request(key.format, key.topic) + "\nAssistant: " + reply + "\n";
      if (key == target && ++seen == k) answer = reply;
    }
    out += "User: " + question(hash, k, target.format, target.topic) + "\nAssistant: ";
    out += hash;
    out += answer;
    out += "\n";
  }
  out += "======END EXAMPLES======\n\n";
  return out;
}

}  // namespace

Json make_synthetic_row(const SyntheticOptions& options) {
  if (options.n_needles < 1 || options.n_needles > 64) {
    throw std::invalid_argument("make_synthetic_row: n_needles must be in 1..64");
  }
  if (options.target_tokens < 1) {
    throw std::invalid_argument("make_synthetic_row: target_tokens must be positive");
  }
  const auto n_needles = static_cast<size_t>(options.n_needles);
  Rng rng(options.seed ^ (static_cast<uint64_t>(options.target_tokens) * 0x9E3779B97F4A7C15ull) ^
          (static_cast<uint64_t>(options.n_needles) << 56));

  const auto target = static_cast<double>(options.target_tokens);
  // Replies of a few hundred tokens like the real data, smaller for small targets so that
  // 8 needles still fit in 4K tokens with room for distractors.
  const size_t reply_chars = std::clamp<size_t>(
      static_cast<size_t>(target * 5.0 / (4.0 * static_cast<double>(n_needles + 2))), 200, 2600);
  auto reply_size = [&] { return reply_chars / 2 + rng.below(reply_chars); };
  auto request_tokens = [](const Key& key) {
    return static_cast<double>(request(key.format, key.topic).size()) / kRequestCharsPerToken;
  };

  const std::string hash = random_prefix(rng);
  const Key needle{rng.pick(kFormats), rng.pick(kTopics)};
  const int k = 1 + static_cast<int>(rng.below(n_needles));
  const std::string few_shot = few_shot_block(rng, needle);
  const std::string final_question = question(hash, k, needle.format, needle.topic);

  // Needle replies in conversation order; the k-th is the answer.
  std::vector<std::string> needle_replies;
  double tokens = static_cast<double>(few_shot.size()) / kFewShotCharsPerToken +
                  static_cast<double>(final_question.size() - hash.size()) / kRequestCharsPerToken +
                  2 * kPrefixTokens;  // the prefix in the question and in the answer
  for (size_t r = 0; r < n_needles; ++r) {
    needle_replies.push_back(write_reply(rng, needle.format, needle.topic, reply_size()));
    tokens += reply_tokens(needle.format, needle_replies.back()) + request_tokens(needle);
  }
  tokens += reply_tokens(needle.format, needle_replies[static_cast<size_t>(k - 1)]);  // answer

  // Distractor turns until the budget is reached, the last ones shortened to what is left;
  // a reply is kept only if that lands nearer the target.
  std::vector<std::pair<Key, std::string>> fillers;
  while (tokens < target) {
    Key key = distractor(rng, needle);
    const auto left_chars = static_cast<size_t>((target - tokens) * 4.9);
    std::string reply = write_reply(rng, key.format, key.topic,
                                    std::min(reply_size(), std::max<size_t>(left_chars, 150)));
    const double size = reply_tokens(key.format, reply) + request_tokens(key);
    if (tokens + size / 2 > target) break;
    tokens += size;
    fillers.emplace_back(key, std::move(reply));
  }

  // Needle positions: n distinct turns among all, uniformly (partial Fisher-Yates).
  const size_t turns = fillers.size() + n_needles;
  std::vector<size_t> order(turns);
  for (size_t i = 0; i < turns; ++i) order[i] = i;
  for (size_t i = 0; i < n_needles; ++i) std::swap(order[i], order[i + rng.below(turns - i)]);
  std::vector<bool> is_needle(turns, false);
  for (size_t i = 0; i < n_needles; ++i) is_needle[order[i]] = true;

  Json messages = Json::array();
  size_t next_needle = 0;
  size_t next_filler = 0;
  size_t desired_msg_index = 0;
  size_t n_chars = 0;
  auto add = [&](const char* role, std::string content) {
    n_chars += content.size();  // ASCII only: bytes == characters
    messages.push_back({{"role", role}, {"content", std::move(content)}});
  };
  for (size_t t = 0; t < turns; ++t) {
    const std::string prefix = t == 0 ? few_shot : std::string();
    if (is_needle[t]) {
      add("user", prefix + request(needle.format, needle.topic));
      if (++next_needle == static_cast<size_t>(k)) desired_msg_index = messages.size();
      add("assistant", needle_replies[next_needle - 1]);
    } else {
      auto& [key, reply] = fillers[next_filler++];
      add("user", prefix + request(key.format, key.topic));
      add("assistant", std::move(reply));
    }
  }
  add("user", final_question);

  char date[16];
  std::snprintf(date, sizeof date, "%02d-%02d-%04d", 1 + static_cast<int>(rng.below(12)),
                1 + static_cast<int>(rng.below(28)), 2025);
  return Json{{"prompt", messages.dump()},
              {"answer", hash + needle_replies[static_cast<size_t>(k - 1)]},
              {"random_string_to_prepend", hash},
              {"n_needles", options.n_needles},
              {"desired_msg_index", desired_msg_index},
              {"total_messages", messages.size()},
              {"n_chars", n_chars},
              {"date_added", std::string(date)}};
}

}  // namespace v4eval::mrcr
