#include "harness/cli/args.h"

#include <fstream>

#include "harness/types.h"

namespace v4eval::cli {

Args::Args(std::string command, std::string synopsis, std::vector<FlagDef> flags)
    : command_(std::move(command)), synopsis_(std::move(synopsis)), flags_(std::move(flags)) {}

const FlagDef* Args::find(const std::string& name) const {
  for (const auto& f : flags_)
    if (f.name == name) return &f;
  return nullptr;
}

Status Args::parse(const std::vector<std::string>& argv) {
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "--help" || a == "-h") {
      help_ = true;
      continue;
    }
    if (a.rfind("--", 0) != 0 || a == "--") {
      positional_.push_back(a);
      continue;
    }
    std::string name = a.substr(2), value;
    bool inline_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    const FlagDef* def = find(name);
    if (!def)
      return InvalidArgument("v4eval " + command_ + ": unknown flag --" + name +
                             " (see v4eval " + command_ + " --help)");
    if (def->value.empty()) {
      if (inline_value) return InvalidArgument("--" + name + " takes no value");
      values_[name].push_back("true");
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= argv.size()) return InvalidArgument("--" + name + " needs a value (" + def->value + ")");
      value = argv[++i];
    }
    if (!def->repeatable && values_.count(name))
      return InvalidArgument("--" + name + " given twice");
    values_[name].push_back(value);
  }
  return Status::Ok();
}

Status Args::merge_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) return InvalidArgument("--config " + path + ": cannot open");
  Json j;
  try {
    j = Json::parse(in);
  } catch (const Json::parse_error& e) {
    return InvalidArgument("--config " + path + ": malformed JSON: " + e.what());
  }
  if (!j.is_object()) return InvalidArgument("--config " + path + ": expected a JSON object");
  for (auto& [key, v] : j.items()) {
    std::string name = key;
    for (auto& c : name) if (c == '_') c = '-';
    const FlagDef* def = find(name);
    if (!def || name == "config")
      return InvalidArgument("--config " + path + ": unknown key \"" + key + "\"");
    if (values_.count(name)) continue;  // the command line wins
    auto as_string = [](const Json& x) {
      return x.is_string() ? x.get<std::string>() : x.dump();
    };
    if (def->value.empty()) {
      if (!v.is_boolean()) return InvalidArgument("--config " + path + ": \"" + key + "\" must be true/false");
      if (v.get<bool>()) values_[name].push_back("true");
    } else if (v.is_array()) {
      if (!def->repeatable) {
        // A list for a comma-valued flag such as "mode": join it.
        std::string joined;
        for (auto& x : v) joined += (joined.empty() ? "" : ",") + as_string(x);
        values_[name].push_back(joined);
      } else {
        for (auto& x : v) values_[name].push_back(as_string(x));
      }
    } else {
      values_[name].push_back(as_string(v));
    }
  }
  return Status::Ok();
}

std::optional<std::string> Args::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> Args::all(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

Result<int64_t> Args::get_int(const std::string& name, int64_t fallback, int64_t min_value) const {
  auto v = get(name);
  if (!v) return fallback;
  try {
    size_t used = 0;
    int64_t x = std::stoll(*v, &used);
    if (used != v->size()) throw std::invalid_argument(*v);
    if (x < min_value)
      return InvalidArgument("--" + name + " must be at least " + std::to_string(min_value));
    return x;
  } catch (const std::exception&) {
    return InvalidArgument("--" + name + " must be an integer, got '" + *v + "'");
  }
}

Result<std::optional<double>> Args::get_double(const std::string& name) const {
  auto v = get(name);
  if (!v) return std::optional<double>();
  try {
    size_t used = 0;
    double x = std::stod(*v, &used);
    if (used != v->size()) throw std::invalid_argument(*v);
    return std::optional<double>(x);
  } catch (const std::exception&) {
    return InvalidArgument("--" + name + " must be a number, got '" + *v + "'");
  }
}

std::string Args::usage() const {
  std::string out = "usage: v4eval " + command_ + " " + synopsis_ + "\n\nflags:\n";
  for (const auto& f : flags_) {
    std::string left = "  --" + f.name + (f.value.empty() ? "" : " " + f.value);
    if (left.size() < 28) left.resize(28, ' ');
    else left += "\n" + std::string(28, ' ');
    out += left + f.help + (f.repeatable ? " (repeatable)" : "") + "\n";
  }
  out += "  --help                    this text\n";
  return out;
}

}  // namespace v4eval::cli
