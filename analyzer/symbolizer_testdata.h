// symbolizer_testdata.h: functions with known names, files and lines for
// symbolizer_test, compiled with -O2 -g.
#ifndef HEAPLENS_ANALYZER_SYMBOLIZER_TESTDATA_H_
#define HEAPLENS_ANALYZER_SYMBOLIZER_TESTDATA_H_

namespace symtest {

// Returns a return address inside Outer(), in the body of an always_inline
// function inlined into it.
void* Outer();
// A plain function, for a lookup at its entry.
int Plain(int x);

extern const int kInlinedCallLine;  // the call inside the inlined function
extern const int kOuterCallLine;    // where Outer() calls the inlined one

}  // namespace symtest

#endif  // HEAPLENS_ANALYZER_SYMBOLIZER_TESTDATA_H_
