# Embeds a file's exact bytes into a C++ source: `std::string_view SYMBOL()` in namespace
# v4eval::embedded. Used for official grader prompts, which must be reproduced byte for byte.
#   cmake -DINPUT=... -DOUTPUT=... -DSYMBOL=... -P embed_file.cmake
file(READ ${INPUT} hex HEX)
string(LENGTH "${hex}" hex_len)
math(EXPR size "${hex_len} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "((0x..,){20})" "\\1\n  " bytes "${bytes}")
file(WRITE ${OUTPUT}.tmp
"// Generated from ${INPUT} by cmake/embed_file.cmake. Do not edit.
#include <string_view>
namespace v4eval::embedded {
static const unsigned char k_${SYMBOL}[] = {
  ${bytes}0x00};
std::string_view ${SYMBOL}() {
  return std::string_view(reinterpret_cast<const char*>(k_${SYMBOL}), ${size});
}
}  // namespace v4eval::embedded
")
file(COPY_FILE ${OUTPUT}.tmp ${OUTPUT} ONLY_IF_DIFFERENT)
file(REMOVE ${OUTPUT}.tmp)
