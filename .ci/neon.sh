#!/usr/bin/env bash
# Cross-builds the library and its tests for aarch64 with Debian's
# g++-aarch64-linux-gnu and runs the kernel and model tests under qemu-user,
# so the NEON kernels (src/kernels/kernels_neon.cpp) are tested on every CI run.
# GoogleTest is built from /usr/src/googletest (libgtest-dev ships the
# sources) with the same cross toolchain.
#
#   .ci/neon.sh [BUILD_DIR]     (default: build-neon)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build=${1:-build-neon}
mkdir -p "$build"
build=$(cd "$build" && pwd)
jobs=${JOBS:-2}

toolchain="$build/aarch64.cmake"
cat > "$toolchain" <<'TOOLCHAIN'
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /usr/aarch64-linux-gnu)
TOOLCHAIN

echo "=== GoogleTest for aarch64"
cmake -S /usr/src/googletest -B "$build/googletest" -DCMAKE_TOOLCHAIN_FILE="$toolchain" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$build/gtest-install" >/dev/null
cmake --build "$build/googletest" -j "$jobs" >/dev/null
cmake --install "$build/googletest" >/dev/null

echo "=== llama2 for aarch64"
cmake -S "$root" -B "$build/llama2" -DCMAKE_TOOLCHAIN_FILE="$toolchain" -DCMAKE_BUILD_TYPE=Release \
  -DGTest_DIR="$build/gtest-install/lib/cmake/GTest" \
  -DLLAMA2_BUILD_TOOLS=OFF -DLLAMA2_INSTALL=OFF >/dev/null
cmake --build "$build/llama2" -j "$jobs" --target llama2_tests

echo "=== kernel and model tests under qemu-aarch64"
file "$build/llama2/llama2_tests" | grep -q aarch64
# The NEON table must be the one in use, and must not be skipped.
filter='AllIsas/*:Isas/*:MatmulBatchInt8.*:Types/BatchForwardInt8.*:KernelDispatch.*:Ops.*:BatchForward*:TransformerVsReference*:TransformerThreads.*:ThreadPool.*:KvF16.*'
out=$(qemu-aarch64 -L /usr/aarch64-linux-gnu "$build/llama2/llama2_tests" --gtest_filter="$filter" 2>&1) || {
  echo "$out"
  exit 1
}
echo "$out" | tail -n 3
if ! echo "$out" | grep -q '^\[       OK \] AllIsas/KernelsTest.MatvecF32MatchesScalar/neon'; then
  echo "neon.sh: the NEON kernel tests did not run" >&2
  exit 1
fi
echo "neon.sh: NEON kernels pass under qemu-aarch64"
