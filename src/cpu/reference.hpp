// The CPU reference path: plain loops that state the math of docs/math.md
// (DESIGN.md §1) directly, accumulating in double. It is the oracle every GPU
// result is checked against, so it is written to be obviously right first;
// the only concession to speed is OpenMP over the batch, where rows are
// independent.
#pragma once

#include <exception>

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

void additive_attention(const AttentionArgs& args);
void project_keys(const ProjectKeysArgs& args);
void additive_attention_projected(const ProjectedAttentionArgs& args);
void attention_pooling(const PoolingArgs& args);
void rnn(const RnnArgs& args);
void dense(const DenseArgs& args);

// Numerically safe masked softmax over e[0, n): subtracts the maximum, writes
// p[0, n). n == 0 writes nothing.
void softmax_inplace(double* e, int64_t n);

}  // namespace seqattn::cpu
