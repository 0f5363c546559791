// Additive attention on every backend against the reference, over the case
// table (tests/common/cases.hpp): one-phase and two-phase forms, masked
// (lengths 0, 1, partial and full, plus bias) and full (NULL lengths), with
// and without weights_out, both math modes — PRECISE within
// 1e-5 + 1e-4·|ref|, FAST within the bound of docs/math.md#tolerances for
// the device on top of that — and the exact zeros of masked positions and
// empty rows. Outputs start as NaN, so an element left unwritten fails.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "attention_util.hpp"
#include "backend_test.hpp"

namespace seqattn_test {
namespace {

using cases::AttentionCase;

// The batch rows the reference computes: all of them, or for a heavy case
// with a large batch a sample (the first four, whose lengths are the edge
// cases, and rows at the middle and the end), since rows are independent.
std::vector<int> reference_rows(const AttentionCase& c) {
  const int B = c.d.batch;
  std::vector<int> rows;
  if (c.heavy && B > 8) {
    rows = {0, 1, 2, 3, B / 2 - 1, B / 2, B - 2, B - 1};
  } else {
    for (int b = 0; b < B; ++b) rows.push_back(b);
  }
  return rows;
}

// Rows `rows` of a [B, n, m] tensor given as [B, rest].
template <class T>
std::vector<T> take_rows(const std::vector<T>& x, int batch, const std::vector<int>& rows) {
  if (x.empty()) return x;
  const size_t rest = x.size() / size_t(batch);
  std::vector<T> out;
  for (int b : rows)
    out.insert(out.end(), x.begin() + long(b * rest), x.begin() + long((b + 1) * rest));
  return out;
}

AttentionInputs take_rows(const AttentionInputs& in, const std::vector<int>& rows) {
  AttentionInputs out = in;
  out.d.batch = int32_t(rows.size());
  out.h = take_rows(in.h, in.d.batch, rows);
  out.s = take_rows(in.s, in.d.batch, rows);
  out.enc = take_rows(in.enc, in.d.batch, rows);
  out.dec = take_rows(in.dec, in.d.batch, rows);
  return out;
}

AttentionOutputs take_rows(const AttentionOutputs& o, int batch, const std::vector<int>& rows) {
  return {take_rows(o.context, batch, rows), take_rows(o.weights, batch, rows)};
}

using Param = std::tuple<Backend, AttentionCase, bool /*masked*/>;
class AttentionBackend : public BackendTest<Param> {};

// The reference once, two-phase (project_keys, then forward_projected: the
// keys it takes as input are then the same floats on both sides); then, in
// each math mode, on the device: the one-phase forward with and without
// weights_out, project_keys, forward_projected fed the reference's keys, and
// forward_projected fed its own keys against its own one-phase result.
TEST_P(AttentionBackend, MatchesReference) {
  const auto& [backend, c, masked] = GetParam();
  if (skip_heavy(c.heavy)) GTEST_SKIP() << cases::heavy_skip_reason();
  const AttentionInputs in = make_inputs(c.d, masked, 100);
  const std::vector<int> rows = reference_rows(c);
  const AttentionInputs ref_in = take_rows(in, rows);  // `in` itself unless rows are sampled
  const std::vector<float> keys_ref = project_keys(ref_, ref_in);
  const AttentionOutputs ref = forward_projected(ref_, ref_in, keys_ref);
  ASSERT_TRUE(all_finite(keys_ref, "reference keys"));
  ASSERT_TRUE(all_finite(ref.weights, "reference weights"));
  ASSERT_TRUE(all_finite(ref.context, "reference context"));

  for_each_target(c.heavy, [&] {
    for (seqattn_math math : cases::kMathModes) {
      SCOPED_TRACE(std::string("math ") + cases::math_name(math));
      std::vector<double> wb, cb;
      if (math == SEQATTN_MATH_FAST) {
        wb = cases::fast_weight_bound(device(), ref_in.v, ref.weights);
        cb = cases::fast_context_bound(device(), ref_in.d, ref_in.h, ref_in.v, ref.weights);
      }
      const seqattn_handle h = dev(math);

      const AttentionOutputs one = forward(h, in, true);
      EXPECT_TRUE(all_finite(one.weights, "weights"));  // every row, sampled or not
      EXPECT_TRUE(all_finite(one.context, "context"));
      EXPECT_TRUE(masked_exact_zeros(in, one));
      const AttentionOutputs one_rows = take_rows(one, in.d.batch, rows);
      EXPECT_TRUE(close(one_rows.weights, ref.weights, "weights (one phase)", wb));
      EXPECT_TRUE(close(one_rows.context, ref.context, "context (one phase)", cb));
      // Without weights_out the context is computed the same way, bit for bit.
      const AttentionOutputs no_weights = forward(h, in, false);
      EXPECT_EQ(0, std::memcmp(no_weights.context.data(), one.context.data(),
                               one.context.size() * sizeof(float)))
          << "the context changed when weights_out was NULL";

      const std::vector<float> keys = project_keys(h, in);
      EXPECT_TRUE(close(take_rows(keys, in.d.batch, rows), keys_ref, "keys"));
      const AttentionOutputs same_keys = forward_projected(h, ref_in, keys_ref);
      EXPECT_TRUE(close(same_keys.weights, ref.weights, "weights (projected)", wb));
      EXPECT_TRUE(close(same_keys.context, ref.context, "context (projected)", cb));
      EXPECT_TRUE(masked_exact_zeros(ref_in, same_keys));
      const AttentionOutputs own_keys = forward_projected(h, in, keys);
      EXPECT_TRUE(close(own_keys.context, one.context, "context (two phases vs one)"));
      EXPECT_TRUE(close(own_keys.weights, one.weights, "weights (two phases vs one)"));
      EXPECT_TRUE(masked_exact_zeros(in, own_keys));
    }
  });
}

std::string param_name(const ::testing::TestParamInfo<Param>& p) {
  const auto& [backend, c, masked] = p.param;
  return std::string(backend_name(backend)) + "_" + c.name + (masked ? "_masked" : "_full");
}

INSTANTIATE_TEST_SUITE_P(Cases, AttentionBackend,
                         ::testing::Combine(::testing::ValuesIn(kBackends),
                                            ::testing::ValuesIn(cases::kAttention),
                                            ::testing::Bool()),
                         param_name);

}  // namespace
}  // namespace seqattn_test
