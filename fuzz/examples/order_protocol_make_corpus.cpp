// Writes the order-protocol fuzzer's seeds to DIR/seed-NN (scripts/fuzz --seeds).
#include <cstdio>
#include <string>

#include "order_protocol_fuzz.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: order_protocol_make_corpus DIR\n");
    return 2;
  }
  const auto seeds = sluice::fuzz::order_protocol_seeds();
  for (std::size_t i = 0; i < seeds.size(); ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "/seed-%02zu", i);
    const std::string path = std::string(argv[1]) + name;
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr || std::fwrite(seeds[i].data(), 1, seeds[i].size(), f) != seeds[i].size()) {
      std::fprintf(stderr, "cannot write %s\n", path.c_str());
      return 1;
    }
    std::fclose(f);
  }
  return 0;
}
