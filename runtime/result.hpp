// Result<T, E>: a value or an error, the error-as-value type used on every sluice path.
// Why not std::expected: it is C++23 and g++ 12 in C++20 mode does not ship it. This is the
// small subset sluice needs, laid out as a tagged union so returning it costs no allocation.
#pragma once

#include <new>
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
class [[nodiscard]] Result {
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

  bool has_value() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }

  T& value() & noexcept { return val_; }
  const T& value() const& noexcept { return val_; }
  T&& value() && noexcept { return std::move(val_); }
  T& operator*() & noexcept { return val_; }
  T&& operator*() && noexcept { return std::move(val_); }
  T* operator->() noexcept { return &val_; }
  const T* operator->() const noexcept { return &val_; }

  E& error() & noexcept { return err_; }
  const E& error() const& noexcept { return err_; }
  E&& error() && noexcept { return std::move(err_); }

 private:
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
class [[nodiscard]] Result<void, E> {
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

  bool has_value() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }
  E& error() & noexcept { return err_; }
  const E& error() const& noexcept { return err_; }
  E&& error() && noexcept { return std::move(err_); }

 private:
  void destroy() noexcept {
    if (!ok_) err_.~E();
  }
  union {
    char none_;
    E err_;
  };
  bool ok_;
};

}  // namespace sluice
