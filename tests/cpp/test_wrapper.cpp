// The C++ wrapper of include/seqattn/seqattn.hpp: errors become exceptions
// that keep the status and the message; handles and buffers own their resource.
#include <type_traits>

#include "test_util.hpp"

namespace seqattn_test {
namespace {

static_assert(!std::is_copy_constructible_v<seqattn::Handle>);
static_assert(std::is_nothrow_move_constructible_v<seqattn::Handle>);
static_assert(std::is_nothrow_move_assignable_v<seqattn::Handle>);
static_assert(!std::is_copy_constructible_v<seqattn::DeviceBuffer<float>>);
static_assert(std::is_nothrow_move_constructible_v<seqattn::DeviceBuffer<float>>);

TEST(Wrapper, ErrorCarriesStatusAndMessage) {
  seqattn::Handle cpu;
  const seqattn_attention_dims d{1, 2, 1, 1, 1, 1};
  const float one[2] = {1, 1};
  float out[2] = {kSentinel, kSentinel};
  try {
    cpu.additive_attention_forward(d, nullptr, one, nullptr, nullptr, one, one, nullptr, one, out,
                                   nullptr);
    FAIL() << "no exception for a NULL encoder_out";
  } catch (const seqattn::Error& e) {
    EXPECT_EQ(e.status(), SEQATTN_ERROR_INVALID_ARGUMENT);
    const std::string what = e.what();
    EXPECT_EQ(what.rfind("SEQATTN_ERROR_INVALID_ARGUMENT: encoder_out", 0), 0u) << what;
    EXPECT_EQ(what, std::string("SEQATTN_ERROR_INVALID_ARGUMENT: ") + seqattn_last_error());
  }
  EXPECT_EQ(out[0], kSentinel);
  // An Error is a std::runtime_error for code that catches those.
  EXPECT_THROW(seqattn::check(SEQATTN_ERROR_IO), std::runtime_error);
  EXPECT_NO_THROW(seqattn::check(SEQATTN_OK));
}

TEST(Wrapper, HandleConstructionErrorsThrow) {
  seqattn_handle_options options = seqattn::default_options();
  options.struct_size = 0;
  try {
    seqattn::Handle bad(options);
    FAIL() << "no exception for struct_size 0";
  } catch (const seqattn::Error& e) {
    EXPECT_EQ(e.status(), SEQATTN_ERROR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(e.what()).find("struct_size"), std::string::npos) << e.what();
  }
  if (seqattn_cuda_device_count() == 0) {
    try {
      seqattn::Handle cuda(SEQATTN_DEVICE_CUDA);
      FAIL() << "a CUDA handle without a GPU";
    } catch (const seqattn::Error& e) {
      EXPECT_TRUE(e.status() == SEQATTN_ERROR_UNSUPPORTED || e.status() == SEQATTN_ERROR_NO_DEVICE)
          << e.what();
    }
  }
}

TEST(Wrapper, HandleMovesOwnership) {
  seqattn::Handle a;
  ASSERT_TRUE(a);
  EXPECT_EQ(a.device(), SEQATTN_DEVICE_CPU);
  const seqattn_handle raw = a.get();

  seqattn::Handle b(std::move(a));
  EXPECT_EQ(b.get(), raw);
  EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move): the moved-from state is the point
  EXPECT_EQ(a.get(), nullptr);
  b.synchronize();

  seqattn::Handle c;
  c = std::move(b);  // c's own handle is destroyed (LeakSanitizer would see it otherwise)
  EXPECT_EQ(c.get(), raw);
  EXPECT_EQ(b.get(), nullptr);
  EXPECT_EQ(c.device(), SEQATTN_DEVICE_CPU);

  // A moved-from handle is NULL to the C API: calls throw, they do not crash.
  try {
    b.synchronize();
    FAIL() << "synchronize on a moved-from handle";
  } catch (const seqattn::Error& e) {
    EXPECT_EQ(e.status(), SEQATTN_ERROR_INVALID_ARGUMENT);
  }
}

TEST(Wrapper, DeviceBufferRunsAnOp) {
  seqattn::Handle cpu;
  // y = relu(x·W): x = [[1, -2]], W = [[1, 0, 2], [1, 1, -1]]  ->  relu([-1, -2, 4]) = [0, 0, 4]
  const float x[2] = {1, -2}, W[6] = {1, 0, 2, 1, 1, -1};
  seqattn::DeviceBuffer<float> d_x(cpu, 2), d_W(cpu, 6), d_y(cpu, 3);
  EXPECT_EQ(d_W.size(), 6u);
  EXPECT_EQ(d_W.bytes(), 24u);
  d_x.copy_from_host(x);
  d_W.copy_from_host(W);
  cpu.dense_forward(1, 2, 3, d_x.data(), d_W.data(), nullptr, SEQATTN_ACTIVATION_RELU, d_y.data());
  std::vector<float> y = sentinels(3);
  d_y.copy_to_host(y.data());
  EXPECT_TRUE(all_equal(y, {0, 0, 4}, "y"));
}

TEST(Wrapper, DeviceBufferMovesAndFrees) {
  seqattn::Handle cpu;
  seqattn::DeviceBuffer<int32_t> a(cpu, 16);
  int32_t* raw = a.data();
  ASSERT_NE(raw, nullptr);

  seqattn::DeviceBuffer<int32_t> b(std::move(a));
  EXPECT_EQ(b.data(), raw);
  EXPECT_EQ(a.data(), nullptr);  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(a.size(), 0u);

  seqattn::DeviceBuffer<int32_t> c(cpu, 4);
  int32_t* c_raw = c.data();
  c = std::move(b);  // c's first block is freed...
  EXPECT_EQ(c.data(), raw);
  EXPECT_EQ(seqattn_free(cpu.get(), c_raw), SEQATTN_ERROR_INVALID_ARGUMENT);  // ...so not ours now

  c.reset();
  EXPECT_EQ(c.data(), nullptr);
  EXPECT_EQ(seqattn_free(cpu.get(), raw), SEQATTN_ERROR_INVALID_ARGUMENT);  // already freed
}

TEST(Wrapper, AllOpsForwardToTheCApi) {
  seqattn::Handle cpu;
  // Each op on a 1-element problem whose answer is plain: one encoder step is
  // copied; one pooled step is copied; a GRU with zero weights keeps
  // h' = 0.5·h + 0.5·tanh(0) = 0.5·h; a SimpleRNN with zero weights gives tanh(0) = 0.
  const float one = 1.0f, zero = 0.0f, h_val = 3.0f, h0 = 0.8f;
  const float zeros3[3] = {0, 0, 0};
  float context = kSentinel, keys = kSentinel, weight = kSentinel;
  const seqattn_attention_dims ad{1, 1, 1, 1, 1, 1};
  cpu.additive_attention_forward(ad, &h_val, &one, nullptr, nullptr, &one, &one, nullptr, &one,
                                 &context, &weight);
  EXPECT_EQ(context, 3.0f);
  EXPECT_EQ(weight, 1.0f);
  cpu.additive_attention_project_keys(ad, &h_val, &one, nullptr, &keys);
  EXPECT_EQ(keys, 3.0f);
  context = kSentinel;
  cpu.additive_attention_forward_projected(ad, &h_val, &keys, &one, nullptr, nullptr, &one, &one,
                                           &context, nullptr);
  EXPECT_EQ(context, 3.0f);
  const seqattn_pooling_dims pd{1, 1, 1};
  context = kSentinel;
  cpu.attention_pooling_forward(pd, &h_val, nullptr, &one, nullptr, &context, nullptr);
  EXPECT_EQ(context, 3.0f);
  const seqattn_rnn_dims rd{1, 1, 1, 1};
  float h_last = kSentinel;
  cpu.gru_forward(rd, SEQATTN_GRU_RESET_BEFORE, 0, &one, nullptr, &h0, zeros3, zeros3, nullptr,
                  nullptr, &h_last);
  EXPECT_FLOAT_EQ(h_last, 0.4f);
  h_last = kSentinel;
  cpu.simple_rnn_forward(rd, SEQATTN_RNN_REVERSE, &one, nullptr, &h0, &zero, &zero, nullptr,
                         nullptr, &h_last);
  EXPECT_EQ(h_last, 0.0f);
  float y = kSentinel;
  cpu.dense_forward(1, 1, 1, &one, &h_val, nullptr, SEQATTN_ACTIVATION_NONE, &y);
  EXPECT_EQ(y, 3.0f);
}

TEST(Wrapper, AllBackwardOpsForwardToTheCApi) {
  seqattn::Handle cpu(SEQATTN_DEVICE_CPU_REFERENCE);
  // 1-element problems again. One encoder step: context = h, its one weight
  // is 1 whatever the energy, so only the values' share reaches h (d = 1)
  // and nothing reaches s, W, U or v.
  const float one = 1.0f, h_val = 3.0f, h0 = 0.8f;
  const float zeros3[3] = {0, 0, 0};
  const seqattn_attention_dims ad{1, 1, 1, 1, 1, 1};
  float dh = kSentinel, ds = kSentinel, dW = kSentinel, dU = kSentinel, dv = kSentinel,
        dkeys = kSentinel;
  cpu.additive_attention_backward(ad, &h_val, &one, nullptr, nullptr, &one, &one, nullptr, &one,
                                  &one, &one, nullptr, &dh, &ds, &dW, &dU, nullptr, &dv);
  EXPECT_EQ(dh, 1.0f);
  EXPECT_EQ(ds, 0.0f);
  EXPECT_EQ(dW, 0.0f);
  EXPECT_EQ(dv, 0.0f);
  dh = kSentinel;
  cpu.additive_attention_projected_backward(ad, &h_val, &h_val, &one, nullptr, nullptr, &one,
                                            &one, &one, &one, nullptr, &dh, &dkeys, &ds, &dU,
                                            &dv);
  EXPECT_EQ(dh, 1.0f);
  EXPECT_EQ(dkeys, 0.0f);
  const seqattn_pooling_dims pd{1, 1, 1};
  float dx = kSentinel, dw = kSentinel;
  cpu.attention_pooling_backward(pd, &h_val, nullptr, &one, nullptr, &one, &one, nullptr, &dx,
                                 &dw, nullptr);
  EXPECT_EQ(dx, 1.0f);
  EXPECT_EQ(dw, 0.0f);
  // GRU (reset-before) with zero weights: z = 1/2, c = 0, h' = h0/2, so
  // d_h0 = z = 1/2, and the kernel's z and h columns get x·dz·z(1−z)·h0 = 0.2
  // and x·(1 − z) = 0.5.
  const seqattn_rnn_dims rd{1, 1, 1, 1};
  float dh0 = kSentinel, dK[3], dR[3];
  const float h_half = 0.4f;  // the forward's output
  cpu.gru_backward(rd, SEQATTN_GRU_RESET_BEFORE, 0, &one, nullptr, &h0, zeros3, zeros3, nullptr,
                   &h_half, nullptr, &one, &dx, &dh0, dK, dR, nullptr);
  EXPECT_FLOAT_EQ(dh0, 0.5f);
  EXPECT_FLOAT_EQ(dK[0], 0.2f);
  EXPECT_EQ(dK[1], 0.0f);
  EXPECT_FLOAT_EQ(dK[2], 0.5f);
  EXPECT_EQ(dx, 0.0f);
  // SimpleRNN with zero weights: h' = tanh(0) = 0, so da = 1 reaches the kernel and bias.
  float db = kSentinel, dk = kSentinel, dr = kSentinel;
  const float zero = 0.0f, out = 0.0f;
  cpu.simple_rnn_backward(rd, 0, &one, nullptr, &h0, &zero, &zero, &zero, &out, nullptr, &one,
                          &dx, &dh0, &dk, &dr, &db);
  EXPECT_EQ(dk, 1.0f);
  EXPECT_EQ(db, 1.0f);
  EXPECT_FLOAT_EQ(dr, 0.8f);
  EXPECT_EQ(dh0, 0.0f);
  // Dense y = 3x: d_x = 3, d_W = x = 1, d_b = 1.
  float dwd = kSentinel, dbd = kSentinel, y = 3.0f;
  cpu.dense_backward(1, 1, 1, &one, &h_val, SEQATTN_ACTIVATION_NONE, &y, &one, &dx, &dwd, &dbd);
  EXPECT_EQ(dx, 3.0f);
  EXPECT_EQ(dwd, 1.0f);
  EXPECT_EQ(dbd, 1.0f);
}

}  // namespace
}  // namespace seqattn_test
