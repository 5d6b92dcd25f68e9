// SLUICE_HD marks a function that nvcc compiles for both the host and the device. The ITCH
// decode routine is written once under it, so the CPU reference and the CUDA kernel run the
// same code (byte-identical records). Headers that use it stay C++17 and free of the standard
// library beyond <cstdint>/<cstddef>: CMake 3.25 + nvcc build .cu files as C++17.
#pragma once

#if defined(__CUDACC__)
#define SLUICE_HD __host__ __device__
#else
#define SLUICE_HD
#endif
