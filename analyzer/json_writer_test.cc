#include "analyzer/json_writer.h"

#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace heaplens {
namespace {

// Parses JSON with libprotobuf's parser (an independent implementation).
google::protobuf::Struct Parse(const std::string& json) {
  google::protobuf::Struct s;
  auto status = google::protobuf::util::JsonStringToMessage(json, &s);
  EXPECT_TRUE(status.ok()) << status << "\n" << json;
  return s;
}

std::string Quoted(absl::string_view s) {
  std::string out;
  JsonWriter::AppendQuoted(s, &out);
  return out;
}

TEST(JsonWriterTest, Escapes) {
  EXPECT_EQ(Quoted("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(Quoted("\n\t\r\b\f"), R"("\n\t\r\b\f")");
  EXPECT_EQ(Quoted(std::string("\x01\x1f\0", 3)), R"("\u0001\u001f\u0000")");
  EXPECT_EQ(Quoted("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
            "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
  EXPECT_EQ(Quoted("/"), "\"/\"");
  EXPECT_EQ(Quoted("\x7f"), "\"\x7f\"");
}

TEST(JsonWriterTest, InvalidUtf8IsReplaced) {
  EXPECT_EQ(Quoted("a\xff"
                   "b"),
            R"("a\ufffdb")");
  EXPECT_EQ(Quoted("\xc3"), R"("\ufffd")");                      // cut short
  EXPECT_EQ(Quoted("\xc0\xaf"), R"("\ufffd\ufffd")");            // overlong
  EXPECT_EQ(Quoted("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")");  // surrogate
}

TEST(JsonWriterTest, DocumentParsesBack) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  w.Key("name\"weird\n");
  w.String("value with \x01 control and \xff bad byte");
  w.Key("n");
  w.Uint(18446744073709551615ull);
  w.Key("neg");
  w.Int(-5);
  w.Key("d");
  w.Double(0.25);
  w.Key("inf");
  w.Double(1.0 / 0.0);
  w.Key("t");
  w.Bool(true);
  w.Key("z");
  w.Null();
  w.Key("empty_list");
  w.BeginArray();
  w.EndArray();
  w.Key("empty_obj");
  w.BeginObject();
  w.EndObject();
  w.Key("list");
  w.BeginArray();
  w.Uint(1);
  w.BeginObject();
  w.Key("x");
  w.String("y");
  w.EndObject();
  w.EndArray();
  w.EndObject();
  google::protobuf::Struct s = Parse(out);
  EXPECT_EQ(s.fields().at("name\"weird\n").string_value(),
            "value with \x01 control and \xef\xbf\xbd bad byte");
  EXPECT_EQ(s.fields().at("neg").number_value(), -5);
  EXPECT_EQ(s.fields().at("d").number_value(), 0.25);
  EXPECT_EQ(s.fields().at("t").bool_value(), true);
  EXPECT_TRUE(s.fields().at("inf").has_null_value());
  EXPECT_EQ(s.fields().at("list").list_value().values_size(), 2);
  EXPECT_EQ(s.fields()
                .at("list")
                .list_value()
                .values(1)
                .struct_value()
                .fields()
                .at("x")
                .string_value(),
            "y");
}

TEST(JsonWriterTest, EveryByteRoundTrips) {
  std::string all;
  for (int c = 1; c < 128; ++c) all.push_back(static_cast<char>(c));
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  w.Key("s");
  w.String(all);
  w.EndObject();
  EXPECT_EQ(Parse(out).fields().at("s").string_value(), all);
}

}  // namespace
}  // namespace heaplens
