// A small exchange simulator: accepts one order-entry connection and acknowledges each order
// (accepted when side, shares and price are sane, else rejected), in arrival order, until the
// client ends the stream. It runs on its own runtime and thread (the exchange core), so the
// gateway's sends cross a real loopback TCP connection.
#pragma once

#include <sluice/examples/pipeline/order_protocol.hpp>
#include <sluice/runtime/io.hpp>
#include <sluice/sluice.hpp>

#include <cstdint>

namespace sluice::pipeline {

struct ExchangeStats {
  uint64_t orders = 0;
  uint64_t accepted = 0;
  uint64_t rejected = 0;
  uint64_t wire_errors = 0;  // a corrupt frame or a non-order message: connection dropped
  int io_error = 0;
};

// Serves the first connection the listener accepts.
inline Task<void> exchange_serve(io::TcpListener* l, ExchangeStats* st) {
  auto c = co_await l->accept();
  if (!c) {
    st->io_error = c.error().errno_value;
    co_return;
  }
  (void)c->set_nodelay();
  FrameBuffer in;
  uint8_t out[FrameBuffer::kCapacity / kOrderFrame * kAckFrame + kAckFrame];
  uint64_t exchange_id = 1;
  for (;;) {
    in.compact();
    auto r = co_await c->recv(in.room());
    if (!r) {
      if (!r.error().is_eof()) st->io_error = r.error().errno_value;
      break;
    }
    in.commit(*r);
    std::size_t bytes = 0;
    bool corrupt = false;
    for (;;) {
      auto f = in.next();
      if (!f) {
        corrupt = f.error() != WireError::NeedMore;
        break;
      }
      if (f->type != 'O') {
        corrupt = true;
        break;
      }
      ++st->orders;
      const OrderMsg& o = f->order;
      AckMsg a{o.client_id, exchange_id++, o.shares, o.price, o.locate, 'A'};
      if (o.shares == 0 || o.price == 0) a.status = 'R';
      (a.status == 'A' ? st->accepted : st->rejected)++;
      bytes += encode_ack(a, {out + bytes, sizeof out - bytes});
    }
    std::span<const std::byte> rest(reinterpret_cast<const std::byte*>(out), bytes);
    while (!rest.empty()) {
      auto w = co_await c->send(rest);
      if (!w) {
        st->io_error = w.error().errno_value;
        co_return;
      }
      rest = rest.subspan(*w);
    }
    if (corrupt) {
      ++st->wire_errors;
      break;
    }
  }
  (void)co_await c->close();
}

}  // namespace sluice::pipeline
