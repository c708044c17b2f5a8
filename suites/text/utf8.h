#pragma once
// UTF-8 <-> Unicode code points. Graders that measure text in characters (MRCR's difflib ratio)
// must count code points, as Python's str does, not bytes.

#include <string>
#include <string_view>

namespace v4eval::text {

// Decodes UTF-8. Never fails: each maximal subpart of an ill-formed sequence becomes one
// U+FFFD (Unicode §3.9 "U+FFFD Substitution of Maximal Subparts", the WHATWG decoder), which is
// exactly what Python's `bytes.decode("utf-8", errors="replace")` does. Overlong forms,
// surrogates (ED A0..BF) and code points above U+10FFFF are ill-formed.
std::u32string utf8_to_code_points(std::string_view utf8);

// Encodes code points as UTF-8. Values that are not Unicode scalar values (surrogates
// D800..DFFF, anything above 10FFFF) are written as U+FFFD.
std::string code_points_to_utf8(std::u32string_view code_points);

}  // namespace v4eval::text
