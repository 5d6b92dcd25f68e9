// Result<T, E>: a value or an error, the error-as-value type used on every sluice path.
// Why not std::expected: it is C++23 and g++ 12 in C++20 mode does not ship it. This is the
// small subset sluice needs, laid out as a tagged union so returning it costs no allocation.
//
// Access, as std::expected:
//  * value() and error() check: the wrong one stops the process through detail::fatal with a
//    message naming the error ("sluice: Result::value() called on an error: closed"). Reading
//    the wrong union member was undefined behaviour and crashed far from the cause.
//  * operator* and operator-> do not check (the hot paths use them right after `if (r)`),
//    unless SLUICE_CHECKED is 1 (detail/checked.hpp: Debug builds and the SLUICE_CHECKED CMake
//    option): then they check too. One setting per program: it changes inline bodies.
//  * value_or, map / transform, and_then, map_error / transform_error and or_else compose
//    without touching the wrong member.
#pragma once

#include "detail/checked.hpp"
#include "detail/fatal.hpp"

#include <concepts>
#include <cstddef>
#include <cstdio>
#include <functional>
#include <new>
#include <string_view>
#include <type_traits>
#include <utility>

namespace sluice {

// Wraps an error so Result<T, E> can be built from it even when T and E convert to each other.
template <class E>
struct Err {
  E error;
};
template <class E>
Err<std::decay_t<E>> err(E&& e) {
  return Err<std::decay_t<E>>{std::forward<E>(e)};
}

template <class T, class E>
class Result;

namespace detail {

// SLUICE_CHECKED is 0 or 1 (detail/checked.hpp: 1 in Debug and with the CMake option).
inline constexpr bool kCheckedDeref = SLUICE_CHECKED != 0;

template <class R>
inline constexpr bool is_result_v = false;
template <class T, class E>
inline constexpr bool is_result_v<Result<T, E>> = true;

// Naming an error for the fatal message. Cold and out of line: a checked access costs the
// caller one compare and a call it never takes.
namespace result_name {

// Hides sluice::to_string from ordinary lookup: only the error type's own to_string, found by
// argument-dependent lookup, names it (so header order cannot change the message).
void to_string() = delete;

template <class S>
concept Text =
    std::convertible_to<const S&, const char*> || std::convertible_to<const S&, std::string_view>;

template <class E>
concept HasToString = requires(const E& e) {
  { to_string(e) } -> Text;
};
template <class E>
concept HasCode = requires(const E& e) {
  { to_string(e.code) } -> Text;
};

// The type's name as the compiler spells it: "[with T = ns::Foo]" (g++) or "[T = ns::Foo]"
// (clang) at the end of __PRETTY_FUNCTION__.
template <class T>
constexpr std::string_view type_name() noexcept {
  std::string_view p = __PRETTY_FUNCTION__;
  std::size_t b = p.find("T = ");
  if (b == std::string_view::npos) return "unknown type";
  b += 4;
  std::size_t e = p.find(';', b);  // g++ appends "; std::string_view = ..." for typedefs
  if (e == std::string_view::npos) e = p.rfind(']');
  if (e == std::string_view::npos || e < b) return "unknown type";
  return p.substr(b, e - b);
}

template <class S>
[[noreturn]] void fatal_text(const char* what, const S& s) noexcept {
  if constexpr (std::convertible_to<const S&, const char*>) {
    const char* c = s;
    fatal(what, c != nullptr ? c : "(null)");
  } else if constexpr (requires {
                         { s.c_str() } -> std::convertible_to<const char*>;
                       }) {
    fatal(what, s.c_str());
  } else {
    std::string_view v(s);  // not NUL-terminated: copy (truncated) onto the stack
    char buf[256];
    std::snprintf(buf, sizeof buf, "%.*s", static_cast<int>(v.size()), v.data());
    fatal(what, buf);
  }
}

template <class E>
[[noreturn, gnu::cold, gnu::noinline]] void bad_access(const char* what, const E& e) noexcept {
  if constexpr (HasToString<E>) {
    fatal_text(what, to_string(e));
  } else if constexpr (HasCode<E>) {
    fatal_text(what, to_string(e.code));
  } else if constexpr (Text<E>) {
    fatal_text(what, e);
  } else {
    constexpr std::string_view name = type_name<E>();
    char buf[256];
    if constexpr (std::is_enum_v<E> || std::is_integral_v<E>) {  // the type and the number
      using N = typename std::conditional_t<std::is_enum_v<E>, std::underlying_type<E>,
                                            std::type_identity<E>>::type;
      if constexpr (std::is_signed_v<N>)
        std::snprintf(buf, sizeof buf, "%.*s(%lld)", static_cast<int>(name.size()), name.data(),
                      static_cast<long long>(static_cast<N>(e)));
      else
        std::snprintf(buf, sizeof buf, "%.*s(%llu)", static_cast<int>(name.size()), name.data(),
                      static_cast<unsigned long long>(static_cast<N>(e)));
    } else {
      std::snprintf(buf, sizeof buf, "%.*s", static_cast<int>(name.size()), name.data());
    }
    fatal(what, buf);
  }
}

}  // namespace result_name

inline constexpr const char kValueOnError[] = "Result::value() called on an error";
inline constexpr const char kDerefOnError[] = "Result::operator*() called on an error";
inline constexpr const char kArrowOnError[] = "Result::operator->() called on an error";
inline constexpr const char kErrorOnValue[] = "Result::error() called on a value";

// What Result<T, E> and Result<void, E> share: has_value, operator bool, error() and the
// combinators, written once. Result<T, E> derives from ResultOps<T, E> and makes it a friend;
// ResultOps holds no data, so the empty base adds no bytes to the tagged union. For the
// combinators the two differ only in how f sees the value (f(value), or f() for void) and how a
// value passes through (nothing to copy for void): call_on_value and pass_value_on below. Each
// combinator passes the Result on as Result&, const Result& or Result&& to its *_impl.
template <class T, class E>
class ResultOps {
  using Derived = Result<T, E>;

 public:
  [[nodiscard]] bool has_value() const noexcept { return self().ok_; }
  explicit operator bool() const noexcept { return self().ok_; }

  // Checked: on a value, stops with "sluice: Result::error() called on a value".
  [[nodiscard]] E& error() & noexcept {
    check_error();
    return self().err_;
  }
  [[nodiscard]] const E& error() const& noexcept {
    check_error();
    return self().err_;
  }
  [[nodiscard]] E&& error() && noexcept {
    check_error();
    return std::move(self().err_);
  }

  // f(value) -> U gives Result<U, E> (Result<void, E> when f returns void); on Result<void, E>
  // f takes no argument. An error passes through without calling f. transform is
  // std::expected's name for it.
  template <class F>
  auto map(F&& f) & {
    return map_impl(self(), std::forward<F>(f));
  }
  template <class F>
  auto map(F&& f) const& {
    return map_impl(self(), std::forward<F>(f));
  }
  template <class F>
  auto map(F&& f) && {
    return map_impl(std::move(self()), std::forward<F>(f));
  }
  template <class F>
  auto transform(F&& f) & {
    return map(std::forward<F>(f));
  }
  template <class F>
  auto transform(F&& f) const& {
    return map(std::forward<F>(f));
  }
  template <class F>
  auto transform(F&& f) && {
    return std::move(*this).map(std::forward<F>(f));
  }

  // f(value) -> Result<U, E> (f() on Result<void, E>); an error passes through without
  // calling f.
  template <class F>
  auto and_then(F&& f) & {
    return and_then_impl(self(), std::forward<F>(f));
  }
  template <class F>
  auto and_then(F&& f) const& {
    return and_then_impl(self(), std::forward<F>(f));
  }
  template <class F>
  auto and_then(F&& f) && {
    return and_then_impl(std::move(self()), std::forward<F>(f));
  }

  // f(error) -> G gives Result<T, G>; a value passes through unchanged. transform_error is
  // std::expected's name for it.
  template <class F>
  auto map_error(F&& f) & {
    return map_error_impl(self(), std::forward<F>(f));
  }
  template <class F>
  auto map_error(F&& f) const& {
    return map_error_impl(self(), std::forward<F>(f));
  }
  template <class F>
  auto map_error(F&& f) && {
    return map_error_impl(std::move(self()), std::forward<F>(f));
  }
  template <class F>
  auto transform_error(F&& f) & {
    return map_error(std::forward<F>(f));
  }
  template <class F>
  auto transform_error(F&& f) const& {
    return map_error(std::forward<F>(f));
  }
  template <class F>
  auto transform_error(F&& f) && {
    return std::move(*this).map_error(std::forward<F>(f));
  }

  // f(error) -> Result<T, G> (a recovery); a value passes through without calling f.
  template <class F>
  auto or_else(F&& f) & {
    return or_else_impl(self(), std::forward<F>(f));
  }
  template <class F>
  auto or_else(F&& f) const& {
    return or_else_impl(self(), std::forward<F>(f));
  }
  template <class F>
  auto or_else(F&& f) && {
    return or_else_impl(std::move(self()), std::forward<F>(f));
  }

 protected:
  // Checked access: on an error, stops with "sluice: <what>: <error>".
  void check_value(const char* what) const noexcept {
    if (!self().ok_) [[unlikely]]
      result_name::bad_access(what, self().err_);
  }

 private:
  Derived& self() noexcept { return static_cast<Derived&>(*this); }
  const Derived& self() const noexcept { return static_cast<const Derived&>(*this); }

  void check_error() const noexcept {
    if (self().ok_) [[unlikely]]
      fatal(kErrorOnValue);
  }

  // f(value), or f() on Result<void, E>. Self is Result&, const Result& or Result: forwarding
  // it forwards the member.
  template <class Self, class F>
  static decltype(auto) call_on_value(Self&& self, F&& f) {
    if constexpr (std::is_void_v<T>)
      return std::invoke(std::forward<F>(f));
    else
      return std::invoke(std::forward<F>(f), std::forward<Self>(self).val_);
  }
  template <class Self, class F>
  using value_call_t = decltype(call_on_value(std::declval<Self>(), std::declval<F>()));
  template <class Self, class F>
  using error_call_t = std::invoke_result_t<F, decltype((std::declval<Self>().err_))>;

  // The pass-through branches, out of line: inlined into a caller that knows which alternative
  // a Result holds, g++ 12 (-O3 with sanitizers) warns that the other one may be read
  // uninitialised (-Wmaybe-uninitialized) even though the branch is dead.
  template <class R, class Self>
  [[gnu::noinline]] static R pass_error(Self&& self) {
    return R(Err<E>{std::forward<Self>(self).err_});
  }
  template <class R, class Self>
  [[gnu::noinline]] static R pass_value(Self&& self) {
    return R(std::forward<Self>(self).val_);
  }
  // A value passed through to R; Result<void, E> has none to read, so R() is built in line.
  template <class R, class Self>
  static R pass_value_on(Self&& self) {
    if constexpr (std::is_void_v<T>)
      return R();
    else
      return pass_value<R>(std::forward<Self>(self));
  }

  template <class Self, class F>
  static auto map_impl(Self&& self, F&& f) {
    using U = std::remove_cvref_t<value_call_t<Self, F>>;
    using R = Result<U, E>;
    if (!self.ok_) return pass_error<R>(std::forward<Self>(self));
    if constexpr (std::is_void_v<U>) {
      call_on_value(std::forward<Self>(self), std::forward<F>(f));
      return R();
    } else {
      return R(call_on_value(std::forward<Self>(self), std::forward<F>(f)));
    }
  }
  template <class Self, class F>
  static auto and_then_impl(Self&& self, F&& f) {
    using R = std::remove_cvref_t<value_call_t<Self, F>>;
    static_assert(is_result_v<R>, "and_then: f must return a Result");
    static_assert(std::is_same_v<typename R::error_type, E>,
                  "and_then: f must return a Result with the same error type");
    if (!self.ok_) return pass_error<R>(std::forward<Self>(self));
    return call_on_value(std::forward<Self>(self), std::forward<F>(f));
  }
  template <class Self, class F>
  static auto map_error_impl(Self&& self, F&& f) {
    using G = std::remove_cv_t<error_call_t<Self, F>>;
    using R = Result<T, G>;
    if (self.ok_) return pass_value_on<R>(std::forward<Self>(self));
    return R(Err<G>{std::invoke(std::forward<F>(f), std::forward<Self>(self).err_)});
  }
  template <class Self, class F>
  static auto or_else_impl(Self&& self, F&& f) {
    using R = std::remove_cvref_t<error_call_t<Self, F>>;
    static_assert(is_result_v<R>, "or_else: f must return a Result");
    static_assert(std::is_same_v<typename R::value_type, T>,
                  "or_else: f must return a Result with the same value type (Result<void, G> "
                  "for Result<void, E>)");
    if (self.ok_) return pass_value_on<R>(std::forward<Self>(self));
    return std::invoke(std::forward<F>(f), std::forward<Self>(self).err_);
  }
};

}  // namespace detail

// has_value, operator bool, error() and the combinators come from detail::ResultOps.
template <class T, class E>
class [[nodiscard]] Result : public detail::ResultOps<T, E> {
 public:
  using value_type = T;
  using error_type = E;

  template <class U = T, class = std::enable_if_t<std::is_constructible_v<T, U&&>>>
  Result(U&& v) noexcept(std::is_nothrow_constructible_v<T, U&&>) : ok_(true) {  // NOLINT
    ::new (&val_) T(std::forward<U>(v));
  }
  template <class G, class = std::enable_if_t<std::is_constructible_v<E, G&&>>>
  Result(Err<G>&& e) noexcept(std::is_nothrow_constructible_v<E, G&&>) : ok_(false) {  // NOLINT
    ::new (&err_) E(std::move(e.error));
  }
  Result(const Result& o) : ok_(o.ok_) {
    if (ok_)
      ::new (&val_) T(o.val_);
    else
      ::new (&err_) E(o.err_);
  }
  Result(Result&& o) noexcept(
      std::is_nothrow_move_constructible_v<T>&& std::is_nothrow_move_constructible_v<E>)
      : ok_(o.ok_) {
    if (ok_)
      ::new (&val_) T(std::move(o.val_));
    else
      ::new (&err_) E(std::move(o.err_));
  }
  Result& operator=(Result o) noexcept(
      std::is_nothrow_move_constructible_v<T>&& std::is_nothrow_move_constructible_v<E>) {
    destroy();
    ok_ = o.ok_;
    if (ok_)
      ::new (&val_) T(std::move(o.val_));
    else
      ::new (&err_) E(std::move(o.err_));
    return *this;
  }
  ~Result() { destroy(); }

  // Checked: on an error, stops with "sluice: Result::value() called on an error: <error>".
  [[nodiscard]] T& value() & noexcept {
    this->check_value(detail::kValueOnError);
    return val_;
  }
  [[nodiscard]] const T& value() const& noexcept {
    this->check_value(detail::kValueOnError);
    return val_;
  }
  [[nodiscard]] T&& value() && noexcept {
    this->check_value(detail::kValueOnError);
    return std::move(val_);
  }

  // Unchecked (checked under SLUICE_CHECKED): for use right after `if (r)`.
  [[nodiscard]] T& operator*() & noexcept {
    if constexpr (detail::kCheckedDeref) this->check_value(detail::kDerefOnError);
    return val_;
  }
  [[nodiscard]] T&& operator*() && noexcept {
    if constexpr (detail::kCheckedDeref) this->check_value(detail::kDerefOnError);
    return std::move(val_);
  }
  [[nodiscard]] T* operator->() noexcept {
    if constexpr (detail::kCheckedDeref) this->check_value(detail::kArrowOnError);
    return &val_;
  }
  [[nodiscard]] const T* operator->() const noexcept {
    if constexpr (detail::kCheckedDeref) this->check_value(detail::kArrowOnError);
    return &val_;
  }

  // The value, or `d` converted to T.
  template <class U>
  [[nodiscard]] T value_or(U&& d) const& noexcept(
      std::is_nothrow_copy_constructible_v<T>&& std::is_nothrow_constructible_v<T, U&&>) {
    static_assert(std::is_copy_constructible_v<T> && std::is_convertible_v<U&&, T>);
    if (ok_) return val_;
    return static_cast<T>(std::forward<U>(d));
  }
  template <class U>
  [[nodiscard]] T value_or(U&& d) && noexcept(
      std::is_nothrow_move_constructible_v<T>&& std::is_nothrow_constructible_v<T, U&&>) {
    static_assert(std::is_move_constructible_v<T> && std::is_convertible_v<U&&, T>);
    if (ok_) return std::move(val_);
    return static_cast<T>(std::forward<U>(d));
  }

 private:
  friend detail::ResultOps<T, E>;

  void destroy() noexcept {
    if (ok_)
      val_.~T();
    else
      err_.~E();
  }
  union {
    T val_;
    E err_;
  };
  bool ok_;
};

// Result<void, E>: success carries nothing.
template <class E>
class [[nodiscard]] Result<void, E> : public detail::ResultOps<void, E> {
 public:
  using value_type = void;
  using error_type = E;
  Result() noexcept : ok_(true) {}
  template <class G, class = std::enable_if_t<std::is_constructible_v<E, G&&>>>
  Result(Err<G>&& e) noexcept(std::is_nothrow_constructible_v<E, G&&>) : ok_(false) {  // NOLINT
    ::new (&err_) E(std::move(e.error));
  }
  Result(const Result& o) : ok_(o.ok_) {
    if (!ok_) ::new (&err_) E(o.err_);
  }
  Result(Result&& o) noexcept(std::is_nothrow_move_constructible_v<E>) : ok_(o.ok_) {
    if (!ok_) ::new (&err_) E(std::move(o.err_));
  }
  Result& operator=(Result o) noexcept(std::is_nothrow_move_constructible_v<E>) {
    destroy();
    ok_ = o.ok_;
    if (!ok_) ::new (&err_) E(std::move(o.err_));
    return *this;
  }
  ~Result() { destroy(); }

  // Asserts success: on an error, stops with "sluice: Result::value() called on an error: ...".
  void value() const noexcept { this->check_value(detail::kValueOnError); }

 private:
  friend detail::ResultOps<void, E>;

  void destroy() noexcept {
    if (!ok_) err_.~E();
  }
  union {
    char none_;
    E err_;
  };
  bool ok_;
};

// The shared base takes no room: a Result is its union and its tag.
static_assert(sizeof(Result<int, int>) == 2 * sizeof(int));
static_assert(sizeof(Result<void, int>) == 2 * sizeof(int));
static_assert(sizeof(Result<void, char>) == 2);

}  // namespace sluice
