#include "backends/v4/chat.h"

namespace v4eval::v4 {

Result<std::string> render_prompt(std::span<const ChatTurn> turns, Mode mode) {
  if (turns.empty()) return InvalidArgument("v4 chat: no messages");
  const bool thinking = mode != Mode::kNonThink;
  size_t last_user = turns.size();  // index of the last user/developer turn
  for (size_t i = 0; i < turns.size(); ++i) {
    const std::string& role = turns[i].role;
    if (role != "system" && role != "user" && role != "developer" && role != "assistant")
      return InvalidArgument("v4 chat: unsupported role '" + role + "' (message " +
                             std::to_string(i) + ")");
    if (role == "user" || role == "developer") last_user = i;
  }
  std::string out(kBos);
  if (mode == Mode::kThinkMax) out += kReasoningEffortMax;
  for (size_t i = 0; i < turns.size(); ++i) {
    const ChatTurn& t = turns[i];
    if (t.role == "system") {
      out += t.content;
    } else if (t.role == "user" || t.role == "developer") {
      out += kUser;
      out += t.content;
      // The generation prefix goes after a user turn that ends the prompt or is answered.
      if (i + 1 == turns.size() || turns[i + 1].role == "assistant") {
        out += kAssistant;
        // History reasoning is dropped: only the turn after the last user turn thinks.
        out += thinking && i >= last_user ? kThinkStart : kThinkEnd;
      }
    } else {  // assistant
      bool after_last_user = last_user == turns.size() || i > last_user;
      if (thinking && after_last_user) {
        out += t.reasoning;
        out += kThinkEnd;
      }
      out += t.content;
      out += kEos;
    }
  }
  return out;
}

Result<std::string> render_prompt(const Messages& messages, Mode mode) {
  std::vector<ChatTurn> turns;
  turns.reserve(messages.size());
  for (const Message& m : messages) turns.push_back({m.role, m.content, {}});
  return render_prompt(std::span<const ChatTurn>(turns), mode);
}

ParsedCompletion parse_completion(std::string_view text, Mode mode) {
  ParsedCompletion out;
  if (text.size() >= kEos.size() && text.substr(text.size() - kEos.size()) == kEos)
    text.remove_suffix(kEos.size());
  if (mode == Mode::kNonThink) {
    out.content = std::string(text);
    return out;
  }
  size_t end = text.find(kThinkEnd);
  if (end == std::string_view::npos) {
    out.reasoning = std::string(text);
    out.reasoning_finished = false;
    return out;
  }
  out.reasoning = std::string(text.substr(0, end));
  out.content = std::string(text.substr(end + kThinkEnd.size()));
  return out;
}

}  // namespace v4eval::v4
