# Finds what the core needs and sets ATTO_BLAS_TARGET, ATTO_OPENMP_TARGET, ATTO_HAS_CUDA.
find_package(fmt REQUIRED)
# nlohmann-json: header-only, used privately by nn/safetensors.cpp (never in a public header).
find_package(nlohmann_json 3.2 REQUIRED)

# ---- BLAS: OpenBLAS's OpenMP build, so BLAS and our own loops share one thread pool ----
set(ATTO_BLAS_TARGET "")
if(ATTO_BLAS STREQUAL "OpenBLAS")
  find_path(ATTO_OPENBLAS_INCLUDE cblas.h
    PATHS /usr/include/x86_64-linux-gnu/openblas-openmp /usr/include/openblas NO_DEFAULT_PATH)
  find_path(ATTO_OPENBLAS_INCLUDE cblas.h)
  find_library(ATTO_OPENBLAS_LIB NAMES openblasp-r0.3.21 openblas
    PATHS /usr/lib/x86_64-linux-gnu/openblas-openmp NO_DEFAULT_PATH)
  find_library(ATTO_OPENBLAS_LIB NAMES openblas)
  if(NOT ATTO_OPENBLAS_INCLUDE OR NOT ATTO_OPENBLAS_LIB)
    message(FATAL_ERROR "ATTO_BLAS=OpenBLAS but OpenBLAS was not found: apt-get install libopenblas-openmp-dev, "
                        "or configure with -DATTO_BLAS=none for the built-in gemm")
  endif()
  # A full library path (not an imported target) so the installed package links it too.
  set(ATTO_BLAS_TARGET ${ATTO_OPENBLAS_LIB})
  message(STATUS "attograd: OpenBLAS ${ATTO_OPENBLAS_LIB}")
elseif(NOT ATTO_BLAS STREQUAL "none")
  message(FATAL_ERROR "ATTO_BLAS must be OpenBLAS or none, got '${ATTO_BLAS}'")
endif()

# ---- OpenMP ----
set(ATTO_OPENMP_TARGET "")
if(ATTO_OPENMP)
  find_package(OpenMP REQUIRED COMPONENTS CXX)
  set(ATTO_OPENMP_TARGET OpenMP::OpenMP_CXX)
endif()

# ---- CUDA: AUTO builds the backend when nvcc is found ----
set(ATTO_HAS_CUDA OFF)
if(ATTO_CUDA STREQUAL "ON" OR ATTO_CUDA STREQUAL "AUTO")
  include(CheckLanguage)
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(ATTO_HAS_CUDA ON)
  elseif(ATTO_CUDA STREQUAL "ON")
    message(FATAL_ERROR "ATTO_CUDA=ON but no CUDA compiler was found (set CMAKE_CUDA_COMPILER or ATTO_CUDA=OFF)")
  endif()
elseif(NOT ATTO_CUDA STREQUAL "OFF")
  message(FATAL_ERROR "ATTO_CUDA must be AUTO, ON or OFF, got '${ATTO_CUDA}'")
endif()
if(ATTO_HAS_CUDA)
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES 80 90)   # Ampere + Hopper
  endif()
  enable_language(CUDA)
  # CMake 3.25's table of nvcc flags stops before C++20 for recent nvcc releases: name the flag.
  if(NOT CMAKE_CUDA20_STANDARD_COMPILE_OPTION)
    set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
    set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
  endif()
  find_package(CUDAToolkit REQUIRED)
endif()
