#pragma once
// A small command-line parser: `--name value`, `--name=value`, repeatable flags, boolean
// switches, `--help`, and a JSON config file whose keys are flag names (flags win).

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "harness/status.h"

namespace v4eval::cli {

struct FlagDef {
  std::string name;      // without dashes
  std::string value;     // placeholder shown in help ("N", "FILE"); empty for a switch
  std::string help;
  bool repeatable = false;
};

class Args {
 public:
  Args(std::string command, std::string synopsis, std::vector<FlagDef> flags);

  // Parses argv (after the subcommand). Returns an error naming the bad flag.
  Status parse(const std::vector<std::string>& argv);
  // Fills flags not given on the command line from a JSON object file (`--config`).
  Status merge_config(const std::string& path);

  bool help_requested() const { return help_; }
  std::string usage() const;

  bool has(const std::string& name) const { return values_.count(name) > 0; }
  std::optional<std::string> get(const std::string& name) const;
  std::vector<std::string> all(const std::string& name) const;
  const std::vector<std::string>& positional() const { return positional_; }

  // Typed getters: a malformed value is an InvalidArgument naming the flag.
  Result<int64_t> get_int(const std::string& name, int64_t fallback, int64_t min_value) const;
  Result<std::optional<double>> get_double(const std::string& name) const;

 private:
  const FlagDef* find(const std::string& name) const;
  std::string command_, synopsis_;
  std::vector<FlagDef> flags_;
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positional_;
  bool help_ = false;
};

}  // namespace v4eval::cli
