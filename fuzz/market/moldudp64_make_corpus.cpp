// Writes the MoldUDP64 fuzzer's seed inputs (moldudp64_seeds() in moldudp64_fuzz.hpp) to a
// directory as seed-NN files. The committed fuzz/market/moldudp64_corpus/ is its output, and
// the replay test reads it.
#include <cstdio>
#include <string>

#include "moldudp64_fuzz.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const auto seeds = sluice::fuzz::moldudp64_seeds();
  for (std::size_t i = 0; i < seeds.size(); ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "/seed-%02zu", i);
    const std::string path = std::string(argv[1]) + name;
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr || std::fwrite(seeds[i].data(), 1, seeds[i].size(), f) != seeds[i].size()) {
      std::perror(path.c_str());
      if (f != nullptr) std::fclose(f);
      return 1;
    }
    std::fclose(f);
  }
  std::printf("%zu seeds in %s\n", seeds.size(), argv[1]);
  return 0;
}
