#include <gtest/gtest.h>

#include <sluice/runtime/result.hpp>

#include <memory>
#include <string>

using sluice::err;
using sluice::Result;

TEST(Result, ValueAndError) {
  Result<int, std::string> a = 5;
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, 5);
  Result<int, std::string> b = err(std::string("bad"));
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error(), "bad");
  b = a;
  EXPECT_EQ(b.value(), 5);
}

TEST(Result, SameTypeValueAndErrorAreDistinct) {
  Result<int, int> v = 3;
  Result<int, int> e = err(3);
  EXPECT_TRUE(v.has_value());
  EXPECT_FALSE(e.has_value());
}

TEST(Result, MoveOnlyAndVoid) {
  Result<std::unique_ptr<int>, int> r = std::make_unique<int>(9);
  auto moved = std::move(r);
  ASSERT_TRUE(moved);
  EXPECT_EQ(**moved, 9);
  Result<void, int> ok;
  Result<void, int> bad = err(4);
  EXPECT_TRUE(ok);
  EXPECT_EQ(bad.error(), 4);
}
