// A tiny outside project: uses the installed headers and static library.
#include <sluice/sluice.hpp>

#include <cstdio>

sluice::Task<long> produce_and_sum() {
  auto [tx, rx] = sluice::local::channel<int>(8).value();
  auto producer = sluice::spawn([](sluice::local::Sender<int> tx) -> sluice::Task<> {
    for (int i = 0; i < 100; ++i) (void)co_await tx.send(i);
  }(std::move(tx)));
  long sum = 0;
  while (auto v = co_await rx.recv()) sum += *v;
  co_return sum;
}

int main() {
  sluice::Runtime rt;
  long sum = rt.block_on(produce_and_sum());
  std::printf("sum=%ld\n", sum);
  return sum == 4950 ? 0 : 1;
}
