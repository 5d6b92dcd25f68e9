# MoldUDP64: parser, receiver and the ITCH decode of what it delivers. Header-only: links
# nothing of the library.
add_executable(moldudp64_fuzz ${CMAKE_CURRENT_LIST_DIR}/moldudp64_fuzz.cpp)
target_include_directories(moldudp64_fuzz PRIVATE ${CMAKE_BINARY_DIR}/include)
target_compile_options(moldudp64_fuzz PRIVATE ${SLUICE_FUZZ_FLAGS})
target_link_options(moldudp64_fuzz PRIVATE ${SLUICE_FUZZ_FLAGS})

# Writes the seed corpus: moldudp64_make_corpus fuzz/market/moldudp64_corpus
add_executable(moldudp64_make_corpus ${CMAKE_CURRENT_LIST_DIR}/moldudp64_make_corpus.cpp)
target_include_directories(moldudp64_make_corpus PRIVATE ${CMAKE_BINARY_DIR}/include)
