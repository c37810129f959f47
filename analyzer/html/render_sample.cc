// render_sample: renders the HTML report for a JSON data file, for the
// browser test (tests/html) and for looking at the template by hand.
//
//   render_sample DATA.json OUT.html
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "analyzer/html/html_report.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s DATA.json OUT.html\n", argv[0]);
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "render_sample: cannot read %s\n", argv[1]);
    return 2;
  }
  std::stringstream data;
  data << in.rdbuf();
  std::ofstream out(argv[2], std::ios::binary);
  out << heaplens::html::RenderHtmlReport(data.str());
  out.close();
  if (!out) {
    std::fprintf(stderr, "render_sample: cannot write %s\n", argv[2]);
    return 2;
  }
  return 0;
}
