// In-register transposes shared by the AVX-512 kernels (kernels_avx512*.cpp)
// and the AMX kernels (kernels_amx.cpp). AVX-512F only, so that functions
// with either file's wider target attributes can inline them.
#pragma once

#if defined(__x86_64__)
#include <immintrin.h>

#define TRANSPOSE_X86_INLINE __attribute__((target("avx512f"), always_inline)) inline

namespace llama2::x86 {

// A 16 x 16 block of floats: v[i] lane j becomes v[j] lane i. Pairs of rows
// interleave, then quadruples, then 128-bit lanes move.
TRANSPOSE_X86_INLINE void transpose16(__m512 v[16]) {
  __m512 t[16], u[16];
  for (int i = 0; i < 8; i++) {
    t[2 * i] = _mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]);
  }
  // u[4i + c], 128-bit lane L: column 4L + c of rows 4i .. 4i + 3
  for (int i = 0; i < 4; i++) {
    u[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    u[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
    u[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    u[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  for (int c = 0; c < 4; c++) {
    const __m512 a = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x44), b = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xEE);
    const __m512 e = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x44), f = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xEE);
    v[c] = _mm512_shuffle_f32x4(a, e, 0x88);
    v[4 + c] = _mm512_shuffle_f32x4(a, e, 0xDD);
    v[8 + c] = _mm512_shuffle_f32x4(b, f, 0x88);
    v[12 + c] = _mm512_shuffle_f32x4(b, f, 0xDD);
  }
}

// 16 rows of 8 dwords (32 int8 values each), row i in the low half of z[i]
// and row i + 8 in its high half: v[s] = dword s of rows 0 .. 15, in order.
// The int8 GEMMs use it to put 4 values of 16 rows (or tokens) in one register.
TRANSPOSE_X86_INLINE void transpose16x8_epi32(const __m512i z[8], __m512i v[8]) {
  const __m512i lo_half = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13), hi_half = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
  // Within each 128-bit lane: rows (0..3 | 4..7) by dwords s and s + 4.
  __m512i t[8], u[8];
  for (int h = 0; h < 8; h += 4) {
    t[h + 0] = _mm512_unpacklo_epi32(z[h + 0], z[h + 1]);
    t[h + 1] = _mm512_unpackhi_epi32(z[h + 0], z[h + 1]);
    t[h + 2] = _mm512_unpacklo_epi32(z[h + 2], z[h + 3]);
    t[h + 3] = _mm512_unpackhi_epi32(z[h + 2], z[h + 3]);
    u[h + 0] = _mm512_unpacklo_epi64(t[h + 0], t[h + 2]);
    u[h + 1] = _mm512_unpackhi_epi64(t[h + 0], t[h + 2]);
    u[h + 2] = _mm512_unpacklo_epi64(t[h + 1], t[h + 3]);
    u[h + 3] = _mm512_unpackhi_epi64(t[h + 1], t[h + 3]);
  }
  for (int s = 0; s < 4; s++) {
    v[s] = _mm512_permutex2var_epi64(u[s], lo_half, u[s + 4]);
    v[s + 4] = _mm512_permutex2var_epi64(u[s], hi_half, u[s + 4]);
  }
}

}  // namespace llama2::x86

#endif
