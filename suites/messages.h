#pragma once
// Chat messages from a data row's JSON list of {role, content}.

#include <memory>
#include <string>

#include "harness/status.h"
#include "harness/types.h"

namespace v4eval {

// Moves the strings out of `list` (a 1M-token prompt is not copied). Errors start with `where`
// (the file:line of the row) and name the bad message.
Result<std::shared_ptr<const Messages>> take_messages(Json& list, const std::string& where);

}  // namespace v4eval
