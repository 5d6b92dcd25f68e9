# The synthetic ITCH 5.0 day: determinism, framing, type mix and order-book consistency.
sluice_market_test(synthetic_feed_test market/synthetic_feed_test.cpp)
