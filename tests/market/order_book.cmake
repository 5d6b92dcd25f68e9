# The order book (market/order_book.hpp). The test binary replaces the global operator new and
# delete with counting malloc/free versions to prove the steady state allocates nothing; GCC
# cannot see that the pair matches.
sluice_test(order_book_test market/order_book_test.cpp)
target_compile_options(order_book_test PRIVATE -Wno-mismatched-new-delete)
