# The pipeline's order-entry protocol (examples/pipeline/order_protocol.hpp): header-only.
add_executable(order_protocol_fuzz ${CMAKE_CURRENT_LIST_DIR}/order_protocol_fuzz.cpp)
target_include_directories(order_protocol_fuzz PRIVATE ${CMAKE_BINARY_DIR}/include)
target_compile_options(order_protocol_fuzz PRIVATE ${SLUICE_FUZZ_FLAGS})
target_link_options(order_protocol_fuzz PRIVATE ${SLUICE_FUZZ_FLAGS})

# Writes the seed corpus: order_protocol_make_corpus fuzz/examples/order_protocol_corpus
add_executable(order_protocol_make_corpus ${CMAKE_CURRENT_LIST_DIR}/order_protocol_make_corpus.cpp)
target_include_directories(order_protocol_make_corpus PRIVATE ${CMAKE_BINARY_DIR}/include)
