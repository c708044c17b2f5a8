#include "suites/messages.h"

namespace v4eval {

Result<std::shared_ptr<const Messages>> take_messages(Json& list, const std::string& where) {
  if (!list.is_array() || list.empty())
    return DataError(where + "\"prompt\" must be a non-empty list of messages");
  auto messages = std::make_shared<Messages>();
  messages->reserve(list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    Json& m = list[i];
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string() || !m.contains("content") ||
        !m["content"].is_string())
      return DataError(where + "prompt message " + std::to_string(i) +
                       " needs string \"role\" and \"content\"");
    messages->push_back({std::move(m["role"].get_ref<std::string&>()),
                         std::move(m["content"].get_ref<std::string&>())});
  }
  return std::shared_ptr<const Messages>(std::move(messages));
}

}  // namespace v4eval
