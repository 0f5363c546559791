// The CPU reference path: plain loops that state the math of docs/math.md
// directly, accumulating in double. It is the oracle every GPU
// result is checked against, so it is written to be obviously right first;
// the only concession to speed is OpenMP over the batch, where rows are
// independent.
#pragma once

#include <exception>
#include <vector>

#include "core/backend.hpp"

namespace seqattn::cpu {

// Below this many multiply-adds a call stays on one thread: starting (and, on
// a loaded machine, waking) an OpenMP team costs more than the work.
inline constexpr int64_t kParallelWork = int64_t(1) << 18;

// for (i = 0; i < n; ++i) body(i), over OpenMP threads when `parallel`. An
// exception may not leave an OpenMP region (that is std::terminate), so the
// first one thrown is carried out and rethrown here: a bad_alloc in a worker
// becomes SEQATTN_ERROR_OUT_OF_MEMORY instead of killing the caller.
template <class Body>
void parallel_for(int64_t n, bool parallel, Body&& body) {
  std::exception_ptr error;
#pragma omp parallel for schedule(guided) if (parallel)
  for (int64_t i = 0; i < n; ++i) {
    try {
      body(i);
    } catch (...) {
#pragma omp critical(seqattn_parallel_for_error)
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
}

// The two gradients of a product y = x·M (x [rows, K], M [K, N]) from dy
// [rows, N] in double, for the backward passes:
//   weight_gradient: out[k, n] = Σ_r x[r, k]·dy[r, n]            (d_M, [K, N])
//   input_gradient:  out[r, k] = Σ_n dy[r, n]·M[k, n] + add[r, k]  (d_x; add may be null)
template <class X>
void weight_gradient(const X* x, const double* dy, int64_t rows, int64_t K, int64_t N,
                     float* out) {
  parallel_for(K, rows * K * N > kParallelWork, [&](int64_t k) {
    std::vector<double> acc(size_t(N), 0.0);
    for (int64_t r = 0; r < rows; ++r) {
      const double xk = double(x[r * K + k]);
      const double* row = dy + r * N;
      for (int64_t n = 0; n < N; ++n) acc[size_t(n)] += xk * row[n];
    }
    for (int64_t n = 0; n < N; ++n) out[k * N + n] = float(acc[size_t(n)]);
  });
}
inline void input_gradient(const double* dy, const float* M, int64_t rows, int64_t K, int64_t N,
                           const double* add, float* out) {
  parallel_for(rows, rows * K * N > kParallelWork, [&](int64_t r) {
    const double* row = dy + r * N;
    for (int64_t k = 0; k < K; ++k) {
      double acc = add ? add[r * K + k] : 0.0;
      for (int64_t n = 0; n < N; ++n) acc += row[n] * double(M[k * N + n]);
      out[r * K + k] = float(acc);
    }
  });
}

void additive_attention(const AttentionArgs& args);
void project_keys(const ProjectKeysArgs& args);
void additive_attention_projected(const ProjectedAttentionArgs& args);
void attention_pooling(const PoolingArgs& args);
void rnn(const RnnArgs& args);
void dense(const DenseArgs& args);
void additive_attention_backward(const AttentionBackwardArgs& args);
void additive_attention_projected_backward(const ProjectedAttentionBackwardArgs& args);
void attention_pooling_backward(const PoolingBackwardArgs& args);
void rnn_backward(const RnnBackwardArgs& args);
void dense_backward(const DenseBackwardArgs& args);

// The model helpers of Backend (src/cpu/model_ops.cpp).
void gather_rows(const float* table /* [vocab, dim] */, int64_t vocab, int64_t dim,
                 const int32_t* ids /* [rows] */, int64_t rows, float* out /* [rows, dim] */);
void argmax_rows(const float* x /* [rows, cols] */, int64_t rows, int64_t cols,
                 int32_t* ids /* [rows] */);
void concat_rows(const float* a /* [rows, da] */, int64_t da, const float* b /* [rows, db] */,
                 int64_t db, int64_t rows, float* out /* [rows, da + db] */);

// Numerically safe masked softmax over e[0, n): subtracts the maximum, writes
// p[0, n). n == 0 writes nothing.
void softmax_inplace(double* e, int64_t n);

}  // namespace seqattn::cpu
