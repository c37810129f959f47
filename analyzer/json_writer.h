// json_writer.h: a small streaming JSON writer with correct escaping.
//
// Strings are escaped per RFC 8259: quote, backslash and control characters
// (as \n, \t, ... or \u00XX); invalid UTF-8 is replaced with U+FFFD so the
// output is always valid JSON. Output is indented with two spaces and is a
// pure function of the calls, so reports are byte-identical across runs.
//
// Example:
//   std::string out;
//   JsonWriter w(&out);
//   w.BeginObject();
//   w.Key("bytes"); w.Uint(40);
//   w.Key("stack"); w.BeginArray(); w.String("main"); w.EndArray();
//   w.EndObject();
#ifndef HEAPLENS_ANALYZER_JSON_WRITER_H_
#define HEAPLENS_ANALYZER_JSON_WRITER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace heaplens {

class JsonWriter {
 public:
  explicit JsonWriter(std::string* out) : out_(out) {}

  void BeginObject();
  void EndObject();
  void BeginArray();
  void EndArray();
  // In an object: the key of the next value.
  void Key(absl::string_view key);
  void String(absl::string_view value);
  void Uint(uint64_t value);
  void Int(int64_t value);
  void Double(double value);  // non-finite values are written as null
  void Bool(bool value);
  void Null();

  // Appends `s` as a quoted JSON string to `*out`.
  static void AppendQuoted(absl::string_view s, std::string* out);

 private:
  void BeforeValue();
  void Newline();

  std::string* out_;
  struct Level {
    bool object;
    bool empty;
  };
  std::vector<Level> stack_;
  bool after_key_ = false;
};

}  // namespace heaplens

#endif  // HEAPLENS_ANALYZER_JSON_WRITER_H_
