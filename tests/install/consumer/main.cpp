// A tiny outside project: uses the installed headers and static library.
#include <sluice/market/itch/encode.hpp>
#include <sluice/market/itch/framing.hpp>
#include <sluice/market/order_book.hpp>
#include <sluice/market/synthetic_feed.hpp>
#include <sluice/sluice.hpp>

#include <cstdio>
#include <vector>

sluice::Task<long> produce_and_sum() {
  auto [tx, rx] = sluice::local::channel<int>(8).value();
  auto producer = sluice::spawn([](sluice::local::Sender<int> tx) -> sluice::Task<> {
    for (int i = 0; i < 100; ++i) (void)co_await tx.send(i);
  }(std::move(tx)));
  long sum = 0;
  while (auto v = co_await rx.recv()) sum += *v;
  co_return sum;
}

// sluice::market: a small generated day decoded into books.
int market_day() {
  namespace m = sluice::market;
  m::FeedConfig cfg;
  cfg.symbols = 8;
  cfg.messages = 10000;
  auto bytes = m::generate_day(cfg);
  if (!bytes) return 1;
  std::vector<m::itch::Record> recs(cfg.messages);
  auto d = m::itch::decode_stream(bytes->data(), bytes->size(), 0, recs.data(),
                                  static_cast<uint32_t>(recs.size()), true);
  m::BookConfig bc;
  bc.max_locate = 8;
  bc.max_live_orders = 100000;
  auto books = m::OrderBooks::make(bc);
  if (!books) return 1;
  (void)books->apply_batch(recs.data(), d.count);
  std::printf("market=%u/%u unresolved=%llu\n", d.count, d.errors,
              static_cast<unsigned long long>(books->counters().unresolved()));
  return d.count == cfg.messages && d.errors == 0 && books->counters().unresolved() == 0 ? 0 : 1;
}

int main() {
  sluice::Runtime rt;
  long sum = rt.block_on(produce_and_sum());
  std::printf("sum=%ld\n", sum);
  return sum == 4950 && market_day() == 0 ? 0 : 1;
}
