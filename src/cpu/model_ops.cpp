// The row helpers of whole models (src/model/) on the CPU, the reference for
// kernels/model.cu:
//
//   gather_rows:  out[r, :] = table[ids[r], :]        table [V, D], ids [R], out [R, D]
//   argmax_rows:  ids[r]    = first j maximising x[r, j] (std::max_element)  x [R, C]
//   concat_rows:  out[r, :] = concat(a[r, :], b[r, :])  a [R, Da], b [R, Db]
//
// The ids are validated upstream, so an id outside [0, V) is a bug of ours:
// SEQATTN_ERROR_INTERNAL, never an out-of-bounds read.
#include <algorithm>
#include <cstdint>
#include <string>

#include "core/error.hpp"
#include "cpu/reference.hpp"

namespace seqattn::cpu {

void gather_rows(const float* table, int64_t vocab, int64_t dim, const int32_t* ids, int64_t rows,
                 float* out) {
  for (int64_t r = 0; r < rows; ++r) {
    if (ids[r] < 0 || ids[r] >= vocab)
      fail(SEQATTN_ERROR_INTERNAL, "gather_rows: token id " + std::to_string(ids[r]) +
                                       " outside the vocabulary [0, " + std::to_string(vocab) +
                                       ")");
    std::copy_n(table + ids[r] * dim, dim, out + r * dim);
  }
}

void argmax_rows(const float* x, int64_t rows, int64_t cols, int32_t* ids) {
  for (int64_t r = 0; r < rows; ++r)
    ids[r] =
        static_cast<int32_t>(std::max_element(x + r * cols, x + (r + 1) * cols) - (x + r * cols));
}

void concat_rows(const float* a, int64_t da, const float* b, int64_t db, int64_t rows,
                 float* out) {
  for (int64_t r = 0; r < rows; ++r) {
    std::copy_n(a + r * da, da, out + r * (da + db));
    std::copy_n(b + r * db, db, out + r * (da + db) + da);
  }
}

}  // namespace seqattn::cpu
