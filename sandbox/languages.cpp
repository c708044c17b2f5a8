// The language table (sandbox.md §5.4): adding a language is adding an entry here.

#include "sandbox/sandbox.h"

namespace v4eval::sandbox {
namespace {

const std::vector<LanguageProfile>& table() {
  static const std::vector<LanguageProfile> languages = {
      {
          .name = "cpp",
          .source_name = "main.cpp",
          // What Codeforces does: C++17, -O2, ONLINE_JUDGE defined, a static binary (which also
          // needs no library view inside the sandbox and starts faster).
          .compile = {"/usr/bin/g++", "-std=c++17", "-O2", "-pipe", "-DONLINE_JUDGE", "-static",
                      "-o", "{bin}", "{src}"},
          .run = {"{program}"},
          .program_name = "main",
          .time_multiplier = 1.0,
          .rlimit_memory_headroom_bytes = 16ll << 20,
          .rlimit_data_not_as = false,
          .env = {},
          .pch_header = "bits/stdc++.h",
      },
      {
          .name = "python",
          .source_name = "main.py",
          .compile = {},
          // The real interpreter, never a shim; -B: no .pyc writes; big-int conversions unlimited
          // (CPython >= 3.11 refuses > 4300 digits by default, failing correct solutions).
          .run = {"/usr/bin/python3", "-B", "-X", "int_max_str_digits=0", "{program}"},
          .program_name = "main.py",
          .time_multiplier = 1.0,
          .rlimit_memory_headroom_bytes = 32ll << 20,
          .rlimit_data_not_as = true,
          .env = {"PYTHONHASHSEED=0", "PYTHONIOENCODING=utf-8"},
          .pch_header = "",
      },
  };
  return languages;
}

}  // namespace

const LanguageProfile* find_language(std::string_view name) {
  if (name == "c++" || name == "cpp17") name = "cpp";
  if (name == "python3" || name == "py") name = "python";
  for (const auto& l : table())
    if (l.name == name) return &l;
  return nullptr;
}

std::vector<std::string> language_names() {
  std::vector<std::string> out;
  for (const auto& l : table()) out.push_back(l.name);
  return out;
}

}  // namespace v4eval::sandbox
