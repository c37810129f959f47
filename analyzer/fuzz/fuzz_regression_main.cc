// fuzz_regression_main.cc: runs trace_fuzz.cc's target over every file in
// the corpus directories given as arguments (or $TEST_SRCDIR's
// analyzer/fuzz/corpus), so the seed corpus and past crashes are replayed in
// the regular test suite without libFuzzer.
#include <dirent.h>
#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

static void CollectFiles(const std::string& dir,
                         std::vector<std::string>* out) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    std::string path = dir + "/" + name;
    struct stat st;
    if (stat(path.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      CollectFiles(path, out);
    } else if (S_ISREG(st.st_mode)) {
      out->push_back(path);
    }
  }
  closedir(d);
}

int main(int argc, char** argv) {
  std::vector<std::string> dirs(argv + 1, argv + argc);
  if (dirs.empty()) {
    const char* srcdir = getenv("TEST_SRCDIR");
    dirs.push_back(std::string(srcdir ? srcdir : ".") +
                   "/heaplens/analyzer/fuzz/corpus");
  }
  std::vector<std::string> files;
  for (const std::string& d : dirs) CollectFiles(d, &files);
  if (files.empty()) {
    fprintf(stderr, "no corpus files found\n");
    return 1;
  }
  for (const std::string& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string data = ss.str();
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(data.data()),
                           data.size());
  }
  printf("replayed %zu corpus files\n", files.size());
  return 0;
}
