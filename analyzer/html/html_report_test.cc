#include "analyzer/html/html_report.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "analyzer/html/report_template.h"
#include "gtest/gtest.h"

namespace heaplens {
namespace html {
namespace {

constexpr absl::string_view kDataOpen =
    "<script type=\"application/json\" id=\"heaplens-data\">";

size_t Count(absl::string_view haystack, absl::string_view needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != absl::string_view::npos;
       at = haystack.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

// The text between the data element's start tag and the next "</script".
absl::string_view DataOf(absl::string_view html) {
  const size_t open = html.find(kDataOpen);
  if (open == absl::string_view::npos) return "";
  const size_t begin = open + kDataOpen.size();
  const size_t end = html.find("</script", begin);
  return html.substr(begin, end - begin);
}

TEST(ReportTemplateTest, IsOneSelfContainedAsciiDocument) {
  const absl::string_view tpl = ReportTemplate();
  ASSERT_GT(tpl.size(), 10000u);
  EXPECT_TRUE(absl::StartsWith(tpl, "<!DOCTYPE html>"));
  EXPECT_TRUE(absl::EndsWith(tpl, "</html>\n"));
  EXPECT_EQ(1u, Count(tpl, kDataPlaceholder));
  EXPECT_EQ(kDataPlaceholder, DataOf(tpl));
  for (size_t i = 0; i < tpl.size(); ++i) {
    ASSERT_LT(static_cast<unsigned char>(tpl[i]), 0x80) << "byte " << i;
  }
  // Nothing is fetched: no external scripts, styles, fonts or images.
  EXPECT_FALSE(absl::StrContains(tpl, "<script src"));
  EXPECT_FALSE(absl::StrContains(tpl, "<link"));
  EXPECT_FALSE(absl::StrContains(tpl, "@import"));
  EXPECT_FALSE(absl::StrContains(tpl, "url("));
  EXPECT_FALSE(absl::StrContains(tpl, "https://"));
  EXPECT_FALSE(absl::StrContains(tpl, "fetch("));
  EXPECT_FALSE(absl::StrContains(tpl, "XMLHttpRequest"));
  // The only http:// is the SVG namespace name, which is never fetched.
  EXPECT_EQ(Count(tpl, "http://"), Count(tpl, "http://www.w3.org/2000/svg"));
}

TEST(RenderHtmlReportTest, InlinesTheDataInPlaceOfThePlaceholder) {
  const std::string html = RenderHtmlReport(R"({"format":"heaplens-html"})");
  EXPECT_EQ(R"({"format":"heaplens-html"})", DataOf(html));
  EXPECT_FALSE(absl::StrContains(html, "@@HEAPLENS_DATA@@"));
  EXPECT_EQ(ReportTemplate().size() - kDataPlaceholder.size() + 26,
            html.size());
  EXPECT_TRUE(absl::EndsWith(html, "</html>\n"));
}

TEST(RenderHtmlReportTest, EmptyDataBecomesNull) {
  EXPECT_EQ("null", DataOf(RenderHtmlReport("")));
}

TEST(RenderHtmlReportTest, HostileStringsCannotLeaveTheScriptElement) {
  const std::string data =
      R"({"f":"</script><script>alert(1)</script>","g":"<!--<script>",)"
      R"("h":"</SCRIPT >","i":"operator<<"})";
  const std::string html = RenderHtmlReport(data);
  // As many script end tags as the template has: none came from the data.
  EXPECT_EQ(Count(ReportTemplate(), "</script"), Count(html, "</script"));
  EXPECT_EQ(Count(ReportTemplate(), "<!--"), Count(html, "<!--"));
  EXPECT_FALSE(absl::StrContains(DataOf(html), "<"));
  EXPECT_EQ(R"({"f":"\u003c/script>\u003cscript>alert(1)\u003c/script>",)"
            R"("g":"\u003c!--\u003cscript>","h":"\u003c/SCRIPT >",)"
            R"("i":"operator\u003c\u003c"})",
            DataOf(html));
}

TEST(EscapeJsonForScriptTest, EscapesLineAndParagraphSeparators) {
  EXPECT_EQ(R"("a\u2028b\u2029c")", EscapeJsonForScript("\"a\xE2\x80\xA8"
                                                        "b\xE2\x80\xA9"
                                                        "c\""));
}

TEST(EscapeJsonForScriptTest, LeavesOtherUtf8AndAsciiAlone) {
  // U+2027 and U+202A are neighbours of the separators; then e-acute, a
  // euro sign, an emoji, and the JSON punctuation.
  const std::string s =
      "\"\xE2\x80\xA7\xE2\x80\xAA\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"
      " &amp; > / \\\" \\u003c\"";
  EXPECT_EQ(s, EscapeJsonForScript(s));
  // A truncated separator at the end is copied as it is.
  EXPECT_EQ("x\xE2\x80", EscapeJsonForScript("x\xE2\x80"));
}

TEST(EscapeJsonForScriptTest, EscapesNul) {
  EXPECT_EQ(R"("a\u0000b")",
            EscapeJsonForScript(absl::string_view("\"a\0b\"", 5)));
}

TEST(EscapeJsonForScriptTest, EmptyStaysEmpty) {
  EXPECT_EQ("", EscapeJsonForScript(""));
}

}  // namespace
}  // namespace html
}  // namespace heaplens
