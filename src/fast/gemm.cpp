// cblas_sgemm behind the fast backend's row-major helpers, and the one-time
// set-up of OpenBLAS.
#include "fast/gemm.hpp"

#include <cblas.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "fast/kernels.hpp"

// Exported by OpenBLAS builds with DYNAMIC_ARCH (Debian's): the start-up
// detection of the processor, which picks the kernels. Weak, so a build
// without them links and simply keeps what OpenBLAS chose.
extern "C" {
void gotoblas_dynamic_init(void) __attribute__((weak));
void gotoblas_dynamic_quit(void) __attribute__((weak));
char* openblas_get_corename(void) __attribute__((weak));
char* openblas_get_config(void) __attribute__((weak));
}

namespace seqattn::fast {

namespace {

// Which products skip OpenBLAS for small_gemm. Two reasons, both measured:
// - below 64³ multiply-adds, a call costs OpenBLAS a few microseconds of
//   set-up, about as much as the product;
// - OpenBLAS 0.3.21's SkylakeX "small matrix" kernels, which take every
//   product up to 100³, malloc and free a buffer on each call whose N % 16 is
//   1 to 8 (N = 17, 23, 33, 56 do; 16, 25, 31, 32, 48, 57, 64 do not): a
//   decoder's output layer over 20 or 40 classes would allocate at every step
//   (tests/model/test_model_allocations.cpp caught it).
bool small_product(int64_t M, int64_t N, int64_t K) {
  const double mnk = double(M) * double(N) * double(K);
  return mnk <= 64.0 * 64.0 * 64.0 || (mnk <= 1e6 && N % 16 >= 1 && N % 16 <= 8);
}

}  // namespace

void gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
          int64_t ldb, float* C, int64_t ldc, bool accumulate) {
  if (small_product(M, N, K)) {
    small_gemm(size_t(M), size_t(N), size_t(K), A, size_t(lda), B, size_t(ldb), C, size_t(ldc),
               accumulate);
    return;
  }
  // OpenBLAS takes int extents: every N, K and leading dimension is an int32
  // tensor dimension (checked at the C boundary); M is split into pieces.
  constexpr int64_t kMaxRows = INT_MAX;
  for (int64_t r0 = 0; r0 < M; r0 += kMaxRows) {
    const int64_t m = std::min(kMaxRows, M - r0);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(m), int(N), int(K), 1.0f,
                A + r0 * lda, int(lda), B, int(ldb), accumulate ? 1.0f : 0.0f, C + r0 * ldc,
                int(ldc));
  }
}

void gemm_t(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A,
            int64_t lda, const float* B, int64_t ldb, float* C, int64_t ldc, bool accumulate) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {  // an empty sum: zeros (OpenBLAS would leave C alone only with beta 1)
    if (!accumulate)
      for (int64_t r = 0; r < M; ++r) std::fill(C + r * ldc, C + r * ldc + N, 0.0f);
    return;
  }
  // OpenBLAS takes int extents: N and every leading dimension are int32
  // tensor dimensions; M and K (row counts, B·T) are split into pieces, K's
  // pieces accumulating.
  constexpr int64_t kMax = INT_MAX;
  for (int64_t r0 = 0; r0 < M; r0 += kMax) {
    const int64_t m = std::min(kMax, M - r0);
    for (int64_t k0 = 0; k0 < K; k0 += kMax) {
      const int64_t k = std::min(kMax, K - k0);
      const float* a = trans_a ? A + k0 * lda + r0 : A + r0 * lda + k0;
      const float* b = trans_b ? B + k0 : B + k0 * ldb;
      cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                  trans_b ? CblasTrans : CblasNoTrans, int(m), int(N), int(k), 1.0f, a, int(lda),
                  b, int(ldb), (accumulate || k0 > 0) ? 1.0f : 0.0f, C + r0 * ldc, int(ldc));
    }
  }
}

void gemm_t_rows(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A,
                 int64_t lda, const float* B, int64_t ldb, float* C, int64_t ldc,
                 bool accumulate) {
  // Blocks as gemm_rows: about four per thread, of 16 to 1024 rows (fewer
  // rows than gemm_rows allows: the weight gradients have M = He or I, often
  // a few hundred, and a long K).
  const int threads = threads_for(double(M) * double(N) * double(K), (M + 15) / 16);
  const int64_t rows = std::clamp<int64_t>((M + 4 * threads - 1) / (4 * threads), 16, 1024);
  const int64_t blocks = (M + rows - 1) / rows;
  parallel_for(blocks, threads, [&](int64_t blk) {
    const int64_t r0 = blk * rows, r1 = std::min(M, r0 + rows);
    gemm_t(trans_a, trans_b, r1 - r0, N, K, trans_a ? A + r0 : A + r0 * lda, lda, B, ldb,
           C + r0 * ldc, ldc, accumulate);
  });
}

namespace {

// OpenBLAS 0.3.21 (Debian 12) does not know processors newer than itself
// (Sapphire and Emerald Rapids, for one) and falls back to its SSE3
// "Prescott" kernels, which made the attention's products 3× slower on the
// machine this was measured on (Emerald Rapids: 93 ms vs 60 ms for the whole
// attention at B=64, T=128, A=256). When it did so, the user did not choose a
// core (OPENBLAS_CORETYPE), and the processor has the instructions of a core
// OpenBLAS does know — Highway's dispatch says which — seqattn asks OpenBLAS
// to detect again with that core named. This runs once, before seqattn's
// first product.
void redetect_blas_core() {
  if (!gotoblas_dynamic_init || !gotoblas_dynamic_quit || !openblas_get_corename) return;
  if (std::getenv("OPENBLAS_CORETYPE")) return;
  const char* core = openblas_get_corename();
  if (!core || std::strcmp(core, "Prescott") != 0) return;
  const std::string simd = simd_target_name();
  const char* better = simd.rfind("AVX3", 0) == 0 ? "SkylakeX" : simd == "AVX2" ? "Haswell" : nullptr;
  if (!better) return;
  setenv("OPENBLAS_CORETYPE", better, 0);
  gotoblas_dynamic_quit();
  gotoblas_dynamic_init();
  unsetenv("OPENBLAS_CORETYPE");
}

}  // namespace

void init_blas() {
  static std::once_flag once;
  std::call_once(once, [] {
    redetect_blas_core();
    openblas_set_num_threads(1);
  });
}

std::string blas_description() {
  std::string s = openblas_get_config ? openblas_get_config() : "a BLAS";
  if (openblas_get_corename) s += std::string(", kernels for ") + openblas_get_corename();
  return s;
}

}  // namespace seqattn::fast
