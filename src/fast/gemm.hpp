// Matrix products of the fast CPU backend, through OpenBLAS's cblas_sgemm.
#pragma once

#include <cstdint>
#include <string>

namespace seqattn::fast {

// C = A·B (+ C when `accumulate`), row-major with leading dimensions, on the
// calling thread: A [M, K] (lda), B [K, N] (ldb), C [M, N] (ldc).
void gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
          int64_t ldb, float* C, int64_t ldc, bool accumulate = false);

// C = op(A)·op(B) (+ C when `accumulate`), op(X) = Xᵀ when its flag is set,
// on the calling thread: op(A) [M, K], op(B) [K, N], C [M, N] (ldc); lda and
// ldb are the stored matrices' row strides. For the backward passes, whose
// products take the forward's operands transposed (dz·Wᵀ, xᵀ·dz); always
// OpenBLAS (small_gemm has no transposed forms).
void gemm_t(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A,
            int64_t lda, const float* B, int64_t ldb, float* C, int64_t ldc,
            bool accumulate = false);

// gemm_t split into blocks of rows of C over threads (as gemm_rows, no epilogue).
void gemm_t_rows(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A,
                 int64_t lda, const float* B, int64_t ldb, float* C, int64_t ldc,
                 bool accumulate = false);

// The same product split into row blocks over threads (parallel.hpp decides
// how many). `epilogue(r0, r1)` runs on each finished block of rows [r0, r1)
// while it is still in cache, or is a no-op.
template <class Epilogue>
void gemm_rows(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
               int64_t ldb, float* C, int64_t ldc, Epilogue&& epilogue);

// Once per process, before the first product: makes OpenBLAS single-threaded
// (seqattn threads the calls itself, and OpenBLAS's own pthreads on top would
// oversubscribe the cores) and corrects its choice of kernels where it did
// not recognise the processor (gemm.cpp says when).
void init_blas();

// "OpenBLAS 0.3.21 ... , kernels for SkylakeX": for `seqattn info` and the
// benchmark records.
std::string blas_description();

}  // namespace seqattn::fast

#include "fast/parallel.hpp"

namespace seqattn::fast {

template <class Epilogue>
void gemm_rows(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
               int64_t ldb, float* C, int64_t ldc, Epilogue&& epilogue) {
  // About four blocks per thread, of 64 to 1024 rows: each block packs B
  // again (K·N floats), so blocks must be long enough to amortise that, and
  // short enough that a thread slowed by another process holds back only a
  // quarter of its share.
  const int threads = threads_for(double(M) * double(N) * double(K), (M + 63) / 64);
  const int64_t kRows = std::clamp<int64_t>((M + 4 * threads - 1) / (4 * threads), 64, 1024);
  const int64_t blocks = (M + kRows - 1) / kRows;
  parallel_for(blocks, threads, [&](int64_t blk) {
    const int64_t r0 = blk * kRows, r1 = std::min(M, r0 + kRows);
    gemm(r1 - r0, N, K, A + r0 * lda, lda, B, ldb, C + r0 * ldc, ldc);
    epilogue(r0, r1);
  });
}

}  // namespace seqattn::fast
