// Default model helpers of Backend: plain loops over host copies. Correct on
// every backend; a device backend overrides them to avoid the round trip.
#include <algorithm>
#include <cstring>
#include <vector>

#include "core/backend.hpp"
#include "core/error.hpp"

namespace seqattn {

void Backend::gather_rows(const float* table, int64_t vocab, int64_t dim, const int32_t* ids,
                          int64_t rows, float* out) {
  std::vector<int32_t> h_ids(static_cast<size_t>(rows));
  copy_to_host(h_ids.data(), ids, h_ids.size() * sizeof(int32_t));
  std::vector<float> h_table(static_cast<size_t>(vocab * dim));
  copy_to_host(h_table.data(), table, h_table.size() * sizeof(float));
  std::vector<float> h_out(static_cast<size_t>(rows * dim));
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t id = h_ids[size_t(r)];
    if (id < 0 || id >= vocab)
      fail(SEQATTN_ERROR_INTERNAL, "token id " + std::to_string(id) + " outside the vocabulary");
    std::copy_n(h_table.data() + id * dim, dim, h_out.data() + r * dim);
  }
  copy_to_device(out, h_out.data(), h_out.size() * sizeof(float));
}

void Backend::argmax_rows(const float* x, int64_t rows, int64_t cols, int32_t* ids) {
  std::vector<float> h_x(static_cast<size_t>(rows * cols));
  copy_to_host(h_x.data(), x, h_x.size() * sizeof(float));
  std::vector<int32_t> h_ids(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = h_x.data() + r * cols;
    h_ids[size_t(r)] = static_cast<int32_t>(std::max_element(row, row + cols) - row);
  }
  copy_to_device(ids, h_ids.data(), h_ids.size() * sizeof(int32_t));
}

void Backend::concat_rows(const float* a, int64_t da, const float* b, int64_t db, int64_t rows,
                          float* out) {
  std::vector<float> h_a(static_cast<size_t>(rows * da)), h_b(static_cast<size_t>(rows * db));
  copy_to_host(h_a.data(), a, h_a.size() * sizeof(float));
  copy_to_host(h_b.data(), b, h_b.size() * sizeof(float));
  std::vector<float> h_out(static_cast<size_t>(rows * (da + db)));
  for (int64_t r = 0; r < rows; ++r) {
    std::copy_n(h_a.data() + r * da, da, h_out.data() + r * (da + db));
    std::copy_n(h_b.data() + r * db, db, h_out.data() + r * (da + db) + da);
  }
  copy_to_device(out, h_out.data(), h_out.size() * sizeof(float));
}

}  // namespace seqattn
