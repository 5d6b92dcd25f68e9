// Result: construction, checked access (value()/error() stop with a message naming the error),
// value_or, map / and_then / map_error / or_else on values, errors, move-only types and void.
#include <gtest/gtest.h>

#include <sluice/channel/error.hpp>
#include <sluice/logbuf/error.hpp>
#include <sluice/runtime/result.hpp>
#include <sluice/runtime/runtime.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

using sluice::err;
using sluice::Err;
using sluice::RecvError;
using sluice::Result;
using sluice::SendErrc;
using sluice::SendError;
using IntOrRecv = Result<int, RecvError>;  // one name: a comma would split a gtest macro

namespace rtest {
// No to_string anywhere: the message falls back to the type's name.
struct Opaque {
  int x = 0;
};
enum class Color : uint8_t { Red, Green, Blue };
// A to_string in the error's own namespace returning std::string: found by ADL.
struct Named {
  int n = 0;
};
inline std::string to_string(const Named& e) { return "named error " + std::to_string(e.n); }
}  // namespace rtest

// The layout stays a tagged union, and the accessors keep their noexcept.
static_assert(sizeof(Result<uint64_t, RecvError>) == 16);
static_assert(sizeof(Result<uint32_t, RecvError>) == 8);
static_assert(sizeof(Result<void, RecvError>) == 2);
static_assert(noexcept(std::declval<Result<int, RecvError>&>().value()));
static_assert(noexcept(std::declval<Result<int, RecvError>&&>().value()));
static_assert(noexcept(*std::declval<Result<int, RecvError>&>()));
static_assert(noexcept(std::declval<Result<int, RecvError>&>().error()));
static_assert(noexcept(std::declval<const Result<void, RecvError>&>().value()));
static_assert(noexcept(std::declval<Result<int, RecvError>&>().value_or(1)));
static_assert(std::is_nothrow_move_constructible_v<Result<std::unique_ptr<int>, RecvError>>);

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
  ok.value();  // success: returns
}

TEST(Result, ValueOr) {
  Result<int, RecvError> v = 7;
  Result<int, RecvError> e = err(RecvError::Closed);
  EXPECT_EQ(v.value_or(-1), 7);
  EXPECT_EQ(e.value_or(-1), -1);
  EXPECT_EQ(IntOrRecv(err(RecvError::Empty)).value_or(2.0), 2);  // converted

  Result<std::string, RecvError> s = std::string("kept");
  EXPECT_EQ(s.value_or("other"), "kept");
  EXPECT_EQ(s.value(), "kept");  // const& form copies
  EXPECT_EQ(std::move(s).value_or("other"), "kept");

  Result<std::unique_ptr<int>, RecvError> p = std::make_unique<int>(3);
  auto got = std::move(p).value_or(nullptr);  // && form: move-only is fine
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(*got, 3);
  Result<std::unique_ptr<int>, RecvError> q = err(RecvError::Closed);
  EXPECT_EQ(std::move(q).value_or(nullptr), nullptr);
}

TEST(Result, MapOnValueAndError) {
  Result<int, RecvError> v = 20;
  auto m = v.map([](int x) { return std::to_string(x + 1); });
  static_assert(std::is_same_v<decltype(m), Result<std::string, RecvError>>);
  ASSERT_TRUE(m);
  EXPECT_EQ(*m, "21");

  int calls = 0;
  Result<int, RecvError> e = err(RecvError::Closed);
  auto me = e.map([&](int x) {
    ++calls;
    return x * 2;
  });
  ASSERT_FALSE(me);
  EXPECT_EQ(me.error(), RecvError::Closed);
  EXPECT_EQ(calls, 0);

  // A function returning void gives Result<void, E>.
  auto mv = v.map([&](int x) { calls += x; });
  static_assert(std::is_same_v<decltype(mv), Result<void, RecvError>>);
  EXPECT_TRUE(mv);
  EXPECT_EQ(calls, 20);
  EXPECT_FALSE(e.map([](int) {}));

  // transform is the same operation under std::expected's name.
  EXPECT_EQ(*v.transform([](int x) { return x / 2; }), 10);

  // Mutating through the & form reaches the stored value.
  (void)v.map([](int& x) { x = 1; });
  EXPECT_EQ(*v, 1);
}

TEST(Result, MapMoveOnly) {
  Result<std::unique_ptr<int>, std::string> p = std::make_unique<int>(5);
  auto m = std::move(p).map([](std::unique_ptr<int> u) { return *u + 1; });
  ASSERT_TRUE(m);
  EXPECT_EQ(*m, 6);

  Result<std::unique_ptr<int>, std::unique_ptr<std::string>> e =
      err(std::make_unique<std::string>("gone"));
  auto me = std::move(e).map([](std::unique_ptr<int> u) { return u; });
  ASSERT_FALSE(me);
  EXPECT_EQ(*me.error(), "gone");  // the move-only error moved through
}

TEST(Result, AndThen) {
  auto half = [](int x) -> Result<int, std::string> {
    if (x % 2 != 0) return err(std::string("odd"));
    return x / 2;
  };
  Result<int, std::string> v = 8;
  auto r = v.and_then(half).and_then(half).and_then(half);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 1);
  auto r2 = r.and_then(half);
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error(), "odd");

  int calls = 0;
  Result<int, std::string> e = err(std::string("first"));
  auto re = e.and_then([&](int x) -> Result<int, std::string> {
    ++calls;
    return x;
  });
  ASSERT_FALSE(re);
  EXPECT_EQ(re.error(), "first");  // the first error, f never called
  EXPECT_EQ(calls, 0);

  // Move-only value, to a different value type and to void.
  Result<std::unique_ptr<int>, RecvError> p = std::make_unique<int>(4);
  auto q = std::move(p).and_then(
      [](std::unique_ptr<int> u) -> Result<std::string, RecvError> { return std::to_string(*u); });
  ASSERT_TRUE(q);
  EXPECT_EQ(*q, "4");
  auto rv = q.and_then(
      [](const std::string&) -> Result<void, RecvError> { return err(RecvError::Empty); });
  ASSERT_FALSE(rv);
  EXPECT_EQ(rv.error(), RecvError::Empty);
}

TEST(Result, VoidMapAndThen) {
  Result<void, RecvError> ok;
  Result<void, RecvError> bad = err(RecvError::Closed);
  int calls = 0;
  auto m = ok.map([&] {
    ++calls;
    return 42;
  });
  static_assert(std::is_same_v<decltype(m), Result<int, RecvError>>);
  ASSERT_TRUE(m);
  EXPECT_EQ(*m, 42);
  auto mb = bad.map([&] {
    ++calls;
    return 42;
  });
  ASSERT_FALSE(mb);
  EXPECT_EQ(mb.error(), RecvError::Closed);
  EXPECT_EQ(calls, 1);

  auto a = ok.and_then([]() -> Result<void, RecvError> { return err(RecvError::Empty); });
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error(), RecvError::Empty);
  auto ab = bad.and_then([&]() -> Result<int, RecvError> {
    ++calls;
    return 1;
  });
  ASSERT_FALSE(ab);
  EXPECT_EQ(ab.error(), RecvError::Closed);
  EXPECT_EQ(calls, 1);

  auto me = bad.map_error([](RecvError e) { return std::string(sluice::to_string(e)); });
  static_assert(std::is_same_v<decltype(me), Result<void, std::string>>);
  EXPECT_EQ(me.error(), "closed");
  auto rec = bad.or_else([](RecvError) -> Result<void, int> { return {}; });
  EXPECT_TRUE(rec);
}

TEST(Result, MapErrorAndOrElse) {
  Result<int, RecvError> v = 3;
  Result<int, RecvError> e = err(RecvError::Closed);
  auto to_text = [](RecvError x) { return std::string(sluice::to_string(x)); };
  auto mv = v.map_error(to_text);
  static_assert(std::is_same_v<decltype(mv), Result<int, std::string>>);
  EXPECT_EQ(*mv, 3);
  EXPECT_EQ(e.transform_error(to_text).error(), "closed");

  // or_else recovers from an error (or turns it into another one); a value passes through.
  auto recover = [](RecvError x) -> Result<int, std::string> {
    if (x == RecvError::Empty) return 0;
    return err(std::string("fatal"));
  };
  EXPECT_EQ(*v.or_else(recover), 3);
  EXPECT_EQ(e.or_else(recover).error(), "fatal");
  EXPECT_EQ(*IntOrRecv(err(RecvError::Empty)).or_else(recover), 0);

  // Moving the error out of a SendError hands the value back.
  Result<void, SendError<std::unique_ptr<int>>> failed =
      err(SendError<std::unique_ptr<int>>{SendErrc::Full, std::make_unique<int>(11)});
  auto back = std::move(failed).map_error(
      [](SendError<std::unique_ptr<int>> s) { return std::move(s.value); });
  ASSERT_FALSE(back);
  EXPECT_EQ(*back.error(), 11);
}

// ---- checked access: the wrong accessor stops the process with a message naming the error.

using ResultDeathTest = ::testing::Test;

TEST_F(ResultDeathTest, ValueOnRecvErrorNamesIt) {
  Result<int, RecvError> r = err(RecvError::Closed);
  EXPECT_DEATH((void)r.value(), "sluice: Result::value\\(\\) called on an error: closed");
  Result<int, RecvError> empty = err(RecvError::Empty);
  EXPECT_DEATH((void)std::move(empty).value(),
               "sluice: Result::value\\(\\) called on an error: empty");
  const Result<int, RecvError> c = err(RecvError::Closed);
  EXPECT_DEATH((void)c.value(), "called on an error: closed");
}

TEST_F(ResultDeathTest, ValueOnSendErrorNamesItsCode) {
  Result<void, SendError<int>> r = err(SendError<int>{SendErrc::Full, 5});
  EXPECT_DEATH(r.value(), "sluice: Result::value\\(\\) called on an error: full");
  Result<int, SendError<std::string>> s = err(SendError<std::string>{SendErrc::Closed, "x"});
  EXPECT_DEATH((void)s.value(), "sluice: Result::value\\(\\) called on an error: closed");
}

TEST_F(ResultDeathTest, ValueOnSpawnErrorNamesItsCode) {
  Result<int, sluice::SpawnError<void>> r =
      err(sluice::SpawnError<void>{sluice::SpawnErrc::NoRuntime, sluice::Task<void>{}});
  EXPECT_DEATH((void)r.value(), "called on an error: no runtime on this thread");
}

TEST_F(ResultDeathTest, ValueOnErrorFromAnotherNamespace) {
  // logbuf's own ClaimError, found by ADL in sluice::logbuf.
  Result<int, sluice::logbuf::ClaimError> r = err(sluice::logbuf::ClaimError::TooLarge);
  EXPECT_DEATH((void)r.value(), "called on an error: too large");
  Result<int, rtest::Named> n = err(rtest::Named{7});
  EXPECT_DEATH((void)n.value(), "called on an error: named error 7");
}

TEST_F(ResultDeathTest, ValueOnStringErrorPrintsTheText) {
  Result<int, std::string> r = err(std::string("disk on fire"));
  EXPECT_DEATH((void)r.value(), "sluice: Result::value\\(\\) called on an error: disk on fire");
  Result<int, const char*> c = err("plain text");
  EXPECT_DEATH((void)c.value(), "called on an error: plain text");
  Result<int, std::string_view> v = err(std::string_view("a view, not terminated here"));
  EXPECT_DEATH((void)v.value(), "called on an error: a view, not terminated here");
}

TEST_F(ResultDeathTest, ValueOnUnnamedErrorPrintsItsType) {
  Result<int, rtest::Opaque> r = err(rtest::Opaque{});
  EXPECT_DEATH((void)r.value(), "sluice: Result::value\\(\\) called on an error: rtest::Opaque");
  Result<int, rtest::Color> c = err(rtest::Color::Blue);
  EXPECT_DEATH((void)c.value(), "called on an error: rtest::Color\\(2\\)");
  Result<int, int> i = err(-3);
  EXPECT_DEATH((void)i.value(), "called on an error: int\\(-3\\)");
  Result<int, uint64_t> u = err(UINT64_MAX);
  EXPECT_DEATH((void)u.value(), "called on an error: .*unsigned.*\\(18446744073709551615\\)");
  Result<void, rtest::Opaque> v = err(rtest::Opaque{});
  EXPECT_DEATH(v.value(), "called on an error: rtest::Opaque");
}

TEST_F(ResultDeathTest, ErrorOnValue) {
  Result<int, RecvError> r = 1;
  EXPECT_DEATH((void)r.error(), "sluice: Result::error\\(\\) called on a value");
  EXPECT_DEATH((void)std::move(r).error(), "sluice: Result::error\\(\\) called on a value");
  const Result<void, RecvError> v;
  EXPECT_DEATH((void)v.error(), "sluice: Result::error\\(\\) called on a value");
}

#if SLUICE_CHECKED  // 1 in Debug builds and with the SLUICE_CHECKED option
TEST_F(ResultDeathTest, DerefOnErrorWhenChecked) {
  Result<int, RecvError> r = err(RecvError::Closed);
  EXPECT_DEATH((void)*r, "sluice: Result::operator\\*\\(\\) called on an error: closed");
  Result<std::string, RecvError> s = err(RecvError::Empty);
  EXPECT_DEATH((void)s->size(), "sluice: Result::operator->\\(\\) called on an error: empty");
}
#endif
