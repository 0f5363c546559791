// Every bad-input rule of the C API (include/seqattn/seqattn.h): each test starts from a
// valid call whose outputs hold sentinels, breaks one argument, and expects
// SEQATTN_ERROR_INVALID_ARGUMENT, a message that begins with the argument's
// name, and every output untouched ("writes nothing").
#include <cctype>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <functional>
#include <utility>
#include <limits>
#include <memory>
#include <type_traits>

#include "enum_calls.h"
#include "test_util.hpp"

namespace seqattn_test {
namespace {

constexpr int32_t kMax32 = std::numeric_limits<int32_t>::max();
constexpr int32_t kMin32 = std::numeric_limits<int32_t>::min();
constexpr int64_t kMax64 = std::numeric_limits<int64_t>::max();

// The bytes of a whole vector, for the overlap tests' "nothing written".
template <class T>
std::pair<const void*, size_t> whole(const std::vector<T>& v) {
  return {v.data(), v.size() * sizeof(T)};
}

// "dims->batch = 0 must be >= 1" names dims->batch; "W [He, A] ..." names W.
::testing::AssertionResult names(const std::string& message, const std::string& arg) {
  const bool prefix = message.compare(0, arg.size(), arg) == 0;
  const bool whole_word = message.size() == arg.size() ||
                          !(std::isalnum(static_cast<unsigned char>(message[arg.size()])) ||
                            message[arg.size()] == '_');
  if (prefix && whole_word) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "message \"" << message << "\" does not begin with the argument name \"" << arg << "\"";
}

// Calls are built in place and hold pointers into their own buffers: not copyable.
struct NoCopy {
  // One allocation to hold an input and an output laid over it, so that an
  // overlap test never points past the end of a buffer (where the next one
  // may lie, and be named instead).
  std::vector<float> arena = std::vector<float>(128, 0.25f);
  template <class T>
  T* into_arena(const std::vector<T>& v) {
    std::memcpy(arena.data(), v.data(), v.size() * sizeof(T));
    return reinterpret_cast<T*>(arena.data());
  }
  float* arena_at(size_t offset) { return arena.data() + offset; }

  NoCopy() = default;
  NoCopy(const NoCopy&) = delete;
  NoCopy& operator=(const NoCopy&) = delete;
};

struct AttentionForwardCall : NoCopy {
  seqattn_handle handle;
  seqattn_attention_dims dims{2, 3, 2, 4, 5, 3};  // B, Te, Td, He, Hd, A
  const seqattn_attention_dims* dims_arg = &dims;
  std::vector<float> h = random_vector(24, 1), s = random_vector(20, 2), W = random_vector(12, 3),
                     U = random_vector(15, 4), bias = random_vector(3, 5), v = random_vector(3, 6);
  std::vector<int32_t> enc{3, 1}, dec{2, 0};
  std::vector<float> context = sentinels(16), weights = sentinels(12);
  const float *h_arg = h.data(), *s_arg = s.data(), *W_arg = W.data(), *U_arg = U.data(),
              *bias_arg = bias.data(), *v_arg = v.data();
  const int32_t *enc_arg = enc.data(), *dec_arg = dec.data();
  float *context_arg = context.data(), *weights_arg = weights.data();

  explicit AttentionForwardCall(seqattn_handle hd) : handle(hd) {}
  seqattn_status call() const {
    return seqattn_additive_attention_forward(handle, dims_arg, h_arg, s_arg, enc_arg, dec_arg,
                                              W_arg, U_arg, bias_arg, v_arg, context_arg,
                                              weights_arg);
  }
  ::testing::AssertionResult untouched() const {
    auto r = seqattn_test::untouched(context, "context_out");
    return r ? seqattn_test::untouched(weights, "weights_out") : r;
  }
};

struct ProjectKeysCall : NoCopy {
  seqattn_handle handle;
  seqattn_attention_dims dims{2, 3, 2, 4, 5, 3};
  const seqattn_attention_dims* dims_arg = &dims;
  std::vector<float> h = random_vector(24, 1), W = random_vector(12, 3), bias = random_vector(3, 5);
  std::vector<float> keys = sentinels(18);
  const float *h_arg = h.data(), *W_arg = W.data(), *bias_arg = bias.data();
  float* keys_arg = keys.data();

  explicit ProjectKeysCall(seqattn_handle hd) : handle(hd) {}
  seqattn_status call() const {
    return seqattn_additive_attention_project_keys(handle, dims_arg, h_arg, W_arg, bias_arg,
                                                   keys_arg);
  }
  ::testing::AssertionResult untouched() const { return seqattn_test::untouched(keys, "keys_out"); }
};

struct ProjectedCall : NoCopy {
  seqattn_handle handle;
  seqattn_attention_dims dims{2, 3, 2, 4, 5, 3};
  const seqattn_attention_dims* dims_arg = &dims;
  std::vector<float> h = random_vector(24, 1), keys = random_vector(18, 7),
                     s = random_vector(20, 2), U = random_vector(15, 4), v = random_vector(3, 6);
  std::vector<int32_t> enc{3, 1}, dec{2, 0};
  std::vector<float> context = sentinels(16), weights = sentinels(12);
  const float *h_arg = h.data(), *keys_arg = keys.data(), *s_arg = s.data(), *U_arg = U.data(),
              *v_arg = v.data();
  const int32_t *enc_arg = enc.data(), *dec_arg = dec.data();
  float *context_arg = context.data(), *weights_arg = weights.data();

  explicit ProjectedCall(seqattn_handle hd) : handle(hd) {}
  seqattn_status call() const {
    return seqattn_additive_attention_forward_projected(handle, dims_arg, h_arg, keys_arg, s_arg,
                                                        enc_arg, dec_arg, U_arg, v_arg, context_arg,
                                                        weights_arg);
  }
  ::testing::AssertionResult untouched() const {
    auto r = seqattn_test::untouched(context, "context_out");
    return r ? seqattn_test::untouched(weights, "weights_out") : r;
  }
};

struct PoolingCall : NoCopy {
  seqattn_handle handle;
  seqattn_pooling_dims dims{2, 3, 4};  // B, T, F
  const seqattn_pooling_dims* dims_arg = &dims;
  std::vector<float> x = random_vector(24, 1), w = random_vector(4, 2), b = random_vector(3, 3);
  std::vector<int32_t> lengths{3, 0};
  std::vector<float> context = sentinels(8), weights = sentinels(6);
  const float *x_arg = x.data(), *w_arg = w.data(), *b_arg = b.data();
  const int32_t* lengths_arg = lengths.data();
  float *context_arg = context.data(), *weights_arg = weights.data();

  explicit PoolingCall(seqattn_handle hd) : handle(hd) {}
  seqattn_status call() const {
    return seqattn_attention_pooling_forward(handle, dims_arg, x_arg, lengths_arg, w_arg, b_arg,
                                             context_arg, weights_arg);
  }
  ::testing::AssertionResult untouched() const {
    auto r = seqattn_test::untouched(context, "context_out");
    return r ? seqattn_test::untouched(weights, "weights_out") : r;
  }
};

// One struct for both recurrent functions; gates = 3 (GRU) or 1 (SimpleRNN).
template <int kGates>
struct RnnCall : NoCopy {
  seqattn_handle handle;
  seqattn_rnn_dims dims{2, 3, 4, 5};  // B, T, I, H
  const seqattn_rnn_dims* dims_arg = &dims;
  seqattn_gru_variant variant = SEQATTN_GRU_RESET_AFTER;
  uint32_t flags = SEQATTN_RNN_REVERSE;
  std::vector<float> x = random_vector(24, 1), h0 = random_vector(10, 2),
                     kernel = random_vector(4 * kGates * 5, 3),
                     rec = random_vector(5 * kGates * 5, 4),
                     bias = random_vector(2 * kGates * 5, 5);
  std::vector<int32_t> lengths{3, 1};
  std::vector<float> outputs = sentinels(30), h_last = sentinels(10);
  const float *x_arg = x.data(), *h0_arg = h0.data(), *kernel_arg = kernel.data(),
              *rec_arg = rec.data(), *bias_arg = bias.data();
  const int32_t* lengths_arg = lengths.data();
  float *outputs_arg = outputs.data(), *h_last_arg = h_last.data();

  explicit RnnCall(seqattn_handle hd) : handle(hd) {}
  seqattn_status call() const {
    if (kGates == 1)
      return seqattn_simple_rnn_forward(handle, dims_arg, flags, x_arg, lengths_arg, h0_arg,
                                        kernel_arg, rec_arg, bias_arg, outputs_arg, h_last_arg);
    return seqattn_gru_forward(handle, dims_arg, variant, flags, x_arg, lengths_arg, h0_arg,
                               kernel_arg, rec_arg, bias_arg, outputs_arg, h_last_arg);
  }
  ::testing::AssertionResult untouched() const {
    auto r = seqattn_test::untouched(outputs, "outputs");
    return r ? seqattn_test::untouched(h_last, "h_last") : r;
  }
};
using GruCall = RnnCall<3>;
using SimpleRnnCall = RnnCall<1>;

struct DenseCall : NoCopy {
  seqattn_handle handle;
  int64_t rows = 3;
  int32_t in_dim = 4, out_dim = 2;
  seqattn_activation activation = SEQATTN_ACTIVATION_SOFTMAX;
  std::vector<float> x = random_vector(12, 1), W = random_vector(8, 2), b = random_vector(2, 3);
  std::vector<float> y = sentinels(6);
  const float *x_arg = x.data(), *W_arg = W.data(), *b_arg = b.data();
  float* y_arg = y.data();

  explicit DenseCall(seqattn_handle hd) : handle(hd) {}
  seqattn_status call() const {
    return seqattn_dense_forward(handle, rows, in_dim, out_dim, x_arg, W_arg, b_arg, activation,
                                 y_arg);
  }
  ::testing::AssertionResult untouched() const { return seqattn_test::untouched(y, "y"); }
};

class Validation : public CpuTest {
 protected:
  // The unbroken call succeeds, so a failure below is the broken argument's doing.
  template <class Call>
  void valid_as_built() {
    Call c(h());
    ASSERT_EQ(c.call(), SEQATTN_OK) << seqattn_last_error();
  }

  // `arg` is the argument's name, or "" for the overflow rule (whichever
  // tensor the library checks first may be named; the text says "overflow").
  template <class Call>
  void rejects(const std::string& arg, const std::function<void(Call&)>& breaks) {
    Call c(h());
    breaks(c);
    SCOPED_TRACE("breaking " + (arg.empty() ? std::string("a shape (overflow)") : arg));
    EXPECT_EQ(c.call(), SEQATTN_ERROR_INVALID_ARGUMENT);
    const std::string message = seqattn_last_error();
    if (arg.empty())
      EXPECT_TRUE(contains(message, "overflow")) << "message: " << message;
    else
      EXPECT_TRUE(names(message, arg));
    EXPECT_TRUE(c.untouched());
  }

  // The overlap rule: `breaks` points an output into an input (or another
  // output) and returns the bytes it points into; the call is refused with
  // "<out> overlaps <in>", and neither the outputs nor those bytes changed.
  template <class Call>
  void rejects_overlap(const std::string& out, const std::string& in,
                       const std::function<std::pair<const void*, size_t>(Call&)>& breaks) {
    Call c(h());
    const auto [p, n] = breaks(c);
    const auto* bytes = static_cast<const char*>(p);
    const std::vector<char> before(bytes, bytes + n);
    SCOPED_TRACE(out + " pointed into " + in);
    EXPECT_EQ(c.call(), SEQATTN_ERROR_INVALID_ARGUMENT);
    EXPECT_EQ(std::string(seqattn_last_error()), out + " overlaps " + in);
    EXPECT_TRUE(c.untouched());
    EXPECT_TRUE(std::equal(before.begin(), before.end(), bytes)) << in << " was written";
  }

  // Each field of the dims struct, at 0, -1 and INT32_MIN.
  template <class Call, class Dims>
  void rejects_each_dim(std::initializer_list<std::pair<int32_t Dims::*, const char*>> fields) {
    for (const auto& [field, name] : fields)
      for (int32_t bad : {0, -1, kMin32})
        rejects<Call>(name, [field = field, bad](Call& c) { c.dims.*field = bad; });
  }

  template <class Call>
  void rejects_attention_dims() {
    using D = seqattn_attention_dims;
    rejects<Call>("dims", [](Call& c) { c.dims_arg = nullptr; });
    rejects_each_dim<Call, D>({{&D::batch, "dims->batch"},
                               {&D::enc_steps, "dims->enc_steps"},
                               {&D::dec_steps, "dims->dec_steps"},
                               {&D::enc_dim, "dims->enc_dim"},
                               {&D::dec_dim, "dims->dec_dim"},
                               {&D::units, "dims->units"}});
    // B·Te·He past int64 itself; B·Te·He = 2^62 fits int64 but not as bytes;
    // B·Td·A (the projected queries) = 2^62 with every input tensor small.
    rejects<Call>("", [](Call& c) { c.dims = {kMax32, kMax32, 1, kMax32, 1, 1}; });
    rejects<Call>("", [](Call& c) { c.dims = {1 << 30, 1 << 30, 1, 4, 1, 1}; });
    rejects<Call>("", [](Call& c) { c.dims = {1, 1, kMax32, 1, 1, kMax32}; });
  }

  template <class Call>
  void rejects_bad_lengths(const char* name, std::vector<int32_t> Call::*lengths, int32_t bound) {
    const std::string n = name;
    rejects<Call>(n + "[1]", [=](Call& c) { (c.*lengths)[1] = -1; });
    rejects<Call>(n + "[1]", [=](Call& c) { (c.*lengths)[1] = bound + 1; });
    rejects<Call>(n + "[0]", [=](Call& c) { (c.*lengths)[0] = kMin32; });
    rejects<Call>(n + "[0]", [=](Call& c) { (c.*lengths)[0] = kMax32; });
    // The message gives the value and the bound.
    Call c(h());
    (c.*lengths)[1] = bound + 1;
    ASSERT_EQ(c.call(), SEQATTN_ERROR_INVALID_ARGUMENT);
    EXPECT_TRUE(contains(seqattn_last_error(), n + "[1] = " + std::to_string(bound + 1)))
        << seqattn_last_error();
    EXPECT_TRUE(contains(seqattn_last_error(), std::to_string(bound))) << seqattn_last_error();
  }
};

TEST_F(Validation, AttentionForward) {
  using C = AttentionForwardCall;
  valid_as_built<C>();
  rejects<C>("handle", [](C& c) { c.handle = nullptr; });
  rejects_attention_dims<C>();
  rejects<C>("encoder_out", [](C& c) { c.h_arg = nullptr; });
  rejects<C>("decoder_out", [](C& c) { c.s_arg = nullptr; });
  rejects<C>("W", [](C& c) { c.W_arg = nullptr; });
  rejects<C>("U", [](C& c) { c.U_arg = nullptr; });
  rejects<C>("v", [](C& c) { c.v_arg = nullptr; });
  rejects<C>("context_out", [](C& c) { c.context_arg = nullptr; });
  rejects_bad_lengths<C>("enc_lengths", &C::enc, 3);
  rejects_bad_lengths<C>("dec_lengths", &C::dec, 2);
}

TEST_F(Validation, AttentionProjectKeys) {
  using C = ProjectKeysCall;
  valid_as_built<C>();
  rejects<C>("handle", [](C& c) { c.handle = nullptr; });
  rejects_attention_dims<C>();
  rejects<C>("encoder_out", [](C& c) { c.h_arg = nullptr; });
  rejects<C>("W", [](C& c) { c.W_arg = nullptr; });
  rejects<C>("keys_out", [](C& c) { c.keys_arg = nullptr; });
}

TEST_F(Validation, AttentionForwardProjected) {
  using C = ProjectedCall;
  valid_as_built<C>();
  rejects<C>("handle", [](C& c) { c.handle = nullptr; });
  rejects_attention_dims<C>();
  rejects<C>("encoder_out", [](C& c) { c.h_arg = nullptr; });
  rejects<C>("keys", [](C& c) { c.keys_arg = nullptr; });
  rejects<C>("decoder_out", [](C& c) { c.s_arg = nullptr; });
  rejects<C>("U", [](C& c) { c.U_arg = nullptr; });
  rejects<C>("v", [](C& c) { c.v_arg = nullptr; });
  rejects<C>("context_out", [](C& c) { c.context_arg = nullptr; });
  rejects_bad_lengths<C>("enc_lengths", &C::enc, 3);
  rejects_bad_lengths<C>("dec_lengths", &C::dec, 2);
}

TEST_F(Validation, AttentionPooling) {
  using C = PoolingCall;
  using D = seqattn_pooling_dims;
  valid_as_built<C>();
  rejects<C>("handle", [](C& c) { c.handle = nullptr; });
  rejects<C>("dims", [](C& c) { c.dims_arg = nullptr; });
  rejects_each_dim<C, D>(
      {{&D::batch, "dims->batch"}, {&D::steps, "dims->steps"}, {&D::features, "dims->features"}});
  rejects<C>("", [](C& c) { c.dims = {kMax32, kMax32, kMax32}; });
  rejects<C>("", [](C& c) { c.dims = {1 << 30, 1 << 30, 4}; });
  rejects<C>("x", [](C& c) { c.x_arg = nullptr; });
  rejects<C>("w", [](C& c) { c.w_arg = nullptr; });
  rejects<C>("context_out", [](C& c) { c.context_arg = nullptr; });
  rejects_bad_lengths<C>("lengths", &C::lengths, 3);
}

TEST_F(Validation, GruAndSimpleRnn) {
  using D = seqattn_rnn_dims;
  auto both = [this](auto* tag) {
    using C = std::remove_pointer_t<decltype(tag)>;
    valid_as_built<C>();
    rejects<C>("handle", [](C& c) { c.handle = nullptr; });
    rejects<C>("dims", [](C& c) { c.dims_arg = nullptr; });
    rejects_each_dim<C, D>({{&D::batch, "dims->batch"},
                            {&D::steps, "dims->steps"},
                            {&D::input_dim, "dims->input_dim"},
                            {&D::units, "dims->units"}});
    rejects<C>("", [](C& c) { c.dims = {kMax32, kMax32, kMax32, 1}; });
    // Every input small except the recurrent kernel, H·G·H >= 2^62.
    rejects<C>("", [](C& c) { c.dims = {1, 1, 1, kMax32}; });
    rejects<C>("x", [](C& c) { c.x_arg = nullptr; });
    rejects<C>("kernel", [](C& c) { c.kernel_arg = nullptr; });
    rejects<C>("recurrent_kernel", [](C& c) { c.rec_arg = nullptr; });
    rejects<C>("flags", [](C& c) { c.flags = 2; });
    rejects<C>("flags", [](C& c) { c.flags = 0x80000000u | SEQATTN_RNN_REVERSE; });
    rejects_bad_lengths<C>("lengths", &C::lengths, 3);
  };
  {
    SCOPED_TRACE("seqattn_gru_forward");
    both(static_cast<GruCall*>(nullptr));
  }
  {
    SCOPED_TRACE("seqattn_simple_rnn_forward");
    both(static_cast<SimpleRnnCall*>(nullptr));
  }
}

// C++ cannot hold 2 or -1 in seqattn_gru_variant (its values are 0..1), so the
// calls go through C.
TEST_F(Validation, GruUnknownVariant) {
  GruCall c(h());
  for (int variant : {2, -1, 1000}) {
    SCOPED_TRACE("variant " + std::to_string(variant));
    EXPECT_EQ(call_gru_with_variant(h(), variant, &c.dims, c.x.data(), c.kernel.data(),
                                    c.rec.data(), c.outputs.data(), c.h_last.data()),
              SEQATTN_ERROR_INVALID_ARGUMENT);
    EXPECT_TRUE(names(seqattn_last_error(), "variant"));
    EXPECT_TRUE(c.untouched());
  }
}

TEST_F(Validation, Dense) {
  using C = DenseCall;
  valid_as_built<C>();
  rejects<C>("handle", [](C& c) { c.handle = nullptr; });
  for (int64_t bad : {int64_t(0), int64_t(-1), std::numeric_limits<int64_t>::min()})
    rejects<C>("rows", [bad](C& c) { c.rows = bad; });
  for (int32_t bad : {0, -1, kMin32}) {
    rejects<C>("in_dim", [bad](C& c) { c.in_dim = bad; });
    rejects<C>("out_dim", [bad](C& c) { c.out_dim = bad; });
  }
  rejects<C>("", [](C& c) { c.rows = kMax64; });
  rejects<C>("", [](C& c) {
    c.rows = int64_t(1) << 40;
    c.out_dim = 1 << 22;
  });  // y: 2^62
  rejects<C>("x", [](C& c) { c.x_arg = nullptr; });
  rejects<C>("W", [](C& c) { c.W_arg = nullptr; });
  rejects<C>("y", [](C& c) { c.y_arg = nullptr; });
  // 5 and 7 are values of seqattn_activation in C++ (0..7) but not enumerators.
  rejects<C>("activation", [](C& c) { c.activation = static_cast<seqattn_activation>(5); });
  rejects<C>("activation", [](C& c) { c.activation = static_cast<seqattn_activation>(7); });
  for (int activation : {-1, 8, 1000}) {
    SCOPED_TRACE("activation " + std::to_string(activation));
    C c(h());
    EXPECT_EQ(call_dense_with_activation(h(), activation, c.rows, c.in_dim, c.out_dim, c.x.data(),
                                         c.W.data(), c.y.data()),
              SEQATTN_ERROR_INVALID_ARGUMENT);
    EXPECT_TRUE(names(seqattn_last_error(), "activation"));
    EXPECT_TRUE(c.untouched());
  }
}

// Outputs must not overlap inputs or each other (seqattn.h): each entry point
// refuses an output pointed at, into, or partly over an input or another
// output, naming both, and writes nothing. Buffers that merely touch pass.
TEST_F(Validation, AttentionForwardRefusesOverlap) {
  using C = AttentionForwardCall;
  using R = std::pair<const void*, size_t>;
  rejects_overlap<C>("context_out", "encoder_out", [](C& c) -> R {
    c.context_arg = c.h.data();  // the case: context_out == encoder_out
    return whole(c.h);
  });
  rejects_overlap<C>("context_out", "decoder_out", [](C& c) -> R {
    c.s_arg = c.into_arena(c.s);
    c.context_arg = c.arena_at(19);  // over its last element only
    return whole(c.arena);
  });
  rejects_overlap<C>("context_out", "enc_lengths", [](C& c) -> R {
    c.enc_arg = c.into_arena(c.enc);
    c.context_arg = c.arena_at(1);
    return whole(c.arena);
  });
  rejects_overlap<C>("weights_out", "W", [](C& c) -> R {
    c.W_arg = c.into_arena(c.W);
    c.weights_arg = c.arena_at(5);
    return whole(c.arena);
  });
  rejects_overlap<C>("weights_out", "U", [](C& c) -> R {
    c.weights_arg = c.U.data();
    return whole(c.U);
  });
  rejects_overlap<C>("weights_out", "bias", [](C& c) -> R {
    c.bias_arg = c.into_arena(c.bias);
    c.weights_arg = c.arena_at(0);
    return whole(c.arena);
  });
  rejects_overlap<C>("weights_out", "v", [](C& c) -> R {
    c.v_arg = c.into_arena(c.v);
    c.weights_arg = c.arena_at(2);
    return whole(c.arena);
  });
  rejects_overlap<C>("weights_out", "dec_lengths", [](C& c) -> R {
    c.dec_arg = c.into_arena(c.dec);
    c.weights_arg = c.arena_at(0);
    return whole(c.arena);
  });
  rejects_overlap<C>("weights_out", "context_out", [](C& c) -> R {
    c.context_arg = c.arena_at(0);  // context_out is [2, 2, 4]: 16 floats
    c.weights_arg = c.arena_at(15);
    return whole(c.arena);
  });

  // Adjacent is not overlapping: context_out right after encoder_out, and
  // weights_out right after context_out, in one allocation.
  C c(h());
  std::vector<float> one(24 + 16 + 12, kSentinel);
  std::copy(c.h.begin(), c.h.end(), one.begin());
  c.h_arg = one.data();
  c.context_arg = one.data() + 24;
  c.weights_arg = one.data() + 40;
  EXPECT_EQ(c.call(), SEQATTN_OK) << seqattn_last_error();
  c.weights_arg = one.data() + 39;
  EXPECT_EQ(c.call(), SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(std::string(seqattn_last_error()), "weights_out overlaps context_out");
  c.context_arg = one.data() + 23;
  c.weights_arg = c.weights.data();
  EXPECT_EQ(c.call(), SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(std::string(seqattn_last_error()), "context_out overlaps encoder_out");
}

TEST_F(Validation, AttentionProjectKeysRefusesOverlap) {
  using C = ProjectKeysCall;
  using R = std::pair<const void*, size_t>;
  rejects_overlap<C>("keys_out", "encoder_out", [](C& c) -> R {
    c.h_arg = c.into_arena(c.h);
    c.keys_arg = c.arena_at(10);
    return whole(c.arena);
  });
  rejects_overlap<C>("keys_out", "W", [](C& c) -> R {
    c.W_arg = c.into_arena(c.W);
    c.keys_arg = c.arena_at(0);
    return whole(c.arena);
  });
  rejects_overlap<C>("keys_out", "bias", [](C& c) -> R {
    c.bias_arg = c.into_arena(c.bias);
    c.keys_arg = c.arena_at(2);
    return whole(c.arena);
  });
}

TEST_F(Validation, AttentionForwardProjectedRefusesOverlap) {
  using C = ProjectedCall;
  using R = std::pair<const void*, size_t>;
  rejects_overlap<C>("context_out", "encoder_out", [](C& c) -> R {
    c.context_arg = c.h.data();
    return whole(c.h);
  });
  rejects_overlap<C>("context_out", "keys", [](C& c) -> R {
    c.context_arg = c.keys.data() + 4;
    return whole(c.keys);
  });
  rejects_overlap<C>("weights_out", "decoder_out", [](C& c) -> R {
    c.weights_arg = c.s.data();
    return whole(c.s);
  });
  rejects_overlap<C>("weights_out", "U", [](C& c) -> R {
    c.weights_arg = c.U.data();
    return whole(c.U);
  });
  rejects_overlap<C>("weights_out", "v", [](C& c) -> R {
    c.v_arg = c.into_arena(c.v);
    c.weights_arg = c.arena_at(0);
    return whole(c.arena);
  });
  rejects_overlap<C>("context_out", "dec_lengths", [](C& c) -> R {
    c.dec_arg = c.into_arena(c.dec);
    c.context_arg = c.arena_at(0);
    return whole(c.arena);
  });
  rejects_overlap<C>("weights_out", "context_out", [](C& c) -> R {
    c.weights_arg = c.context.data();
    return whole(c.context);
  });
}

TEST_F(Validation, AttentionPoolingRefusesOverlap) {
  using C = PoolingCall;
  using R = std::pair<const void*, size_t>;
  rejects_overlap<C>("context_out", "x", [](C& c) -> R {
    c.context_arg = c.x.data();
    return whole(c.x);
  });
  rejects_overlap<C>("context_out", "lengths", [](C& c) -> R {
    c.lengths_arg = c.into_arena(c.lengths);
    c.context_arg = c.arena_at(0);
    return whole(c.arena);
  });
  rejects_overlap<C>("weights_out", "w", [](C& c) -> R {
    c.w_arg = c.into_arena(c.w);
    c.weights_arg = c.arena_at(3);
    return whole(c.arena);
  });
  rejects_overlap<C>("weights_out", "b", [](C& c) -> R {
    c.b_arg = c.into_arena(c.b);
    c.weights_arg = c.arena_at(0);
    return whole(c.arena);
  });
  rejects_overlap<C>("weights_out", "context_out", [](C& c) -> R {
    c.context_arg = c.arena_at(0);
    c.weights_arg = c.arena_at(7);
    return whole(c.arena);
  });
}

TEST_F(Validation, GruAndSimpleRnnRefuseOverlap) {
  auto both = [this](auto* tag) {
    using C = std::remove_pointer_t<decltype(tag)>;
    using R = std::pair<const void*, size_t>;
    // The case: seqattn.gru(h, x, k, rk, out=x) zero-filled x first.
    rejects_overlap<C>("outputs", "x", [](C& c) -> R {
      c.x_arg = c.into_arena(c.x);
      c.outputs_arg = c.arena_at(0);
      return whole(c.arena);
    });
    rejects_overlap<C>("outputs", "lengths", [](C& c) -> R {
      c.lengths_arg = c.into_arena(c.lengths);
      c.outputs_arg = c.arena_at(0);
      return whole(c.arena);
    });
    rejects_overlap<C>("h_last", "h0", [](C& c) -> R {
      c.h_last_arg = c.h0.data();  // in place across calls is the caller's copy to make
      return whole(c.h0);
    });
    rejects_overlap<C>("outputs", "kernel", [](C& c) -> R {
      c.kernel_arg = c.into_arena(c.kernel);
      c.outputs_arg = c.arena_at(0);
      return whole(c.arena);
    });
    rejects_overlap<C>("h_last", "recurrent_kernel", [](C& c) -> R {
      c.h_last_arg = c.rec.data() + 3;
      return whole(c.rec);
    });
    rejects_overlap<C>("h_last", "bias", [](C& c) -> R {
      c.h_last_arg = c.bias.data();
      return whole(c.bias);
    });
    rejects_overlap<C>("h_last", "outputs", [](C& c) -> R {
      c.h_last_arg = c.outputs.data() + 20;  // its last 10 of 30 floats
      return whole(c.outputs);
    });
  };
  {
    SCOPED_TRACE("seqattn_gru_forward");
    both(static_cast<GruCall*>(nullptr));
  }
  {
    SCOPED_TRACE("seqattn_simple_rnn_forward");
    both(static_cast<SimpleRnnCall*>(nullptr));
  }
}

TEST_F(Validation, DenseRefusesOverlap) {
  using C = DenseCall;
  using R = std::pair<const void*, size_t>;
  rejects_overlap<C>("y", "x", [](C& c) -> R {
    c.y_arg = c.x.data() + 6;  // y [3, 2] over the second half of x [3, 4]
    return whole(c.x);
  });
  rejects_overlap<C>("y", "W", [](C& c) -> R {
    c.y_arg = c.W.data();
    return whole(c.W);
  });
  rejects_overlap<C>("y", "b", [](C& c) -> R {
    c.b_arg = c.into_arena(c.b);
    c.y_arg = c.arena_at(1);
    return whole(c.arena);
  });
}

// The model's entry points, on the date model when the build has it.
TEST_F(Validation, ModelRefusesOverlap) {
#ifndef SEQATTN_TEST_DATE_MODEL
  GTEST_SKIP() << "built without SEQATTN_TEST_DATE_MODEL";
#else
  seqattn_model model = nullptr;
  if (seqattn_model_load(h(), SEQATTN_TEST_DATE_MODEL, &model) != SEQATTN_OK)
    GTEST_SKIP() << "cannot load " << SEQATTN_TEST_DATE_MODEL << ": " << seqattn_last_error();
  std::unique_ptr<seqattn_model_s, void (*)(seqattn_model)> owner(model, seqattn_model_destroy);
  seqattn_model_info info;
  seqattn_model_info_init(&info);
  ASSERT_EQ(seqattn_model_get_info(model, &info), SEQATTN_OK);
  const auto refused = [](seqattn_status status, const std::string& message) {
    EXPECT_EQ(status, SEQATTN_ERROR_INVALID_ARGUMENT);
    EXPECT_EQ(std::string(seqattn_last_error()), message);
  };

  // Text in, ids and spans out.
  std::string text = "21 nov 2026 and some more";  // 25 bytes: room for 6 int32_t
  const std::string text_before = text;
  int32_t n = -7;
  refused(seqattn_model_encode_source(model, text.c_str(), reinterpret_cast<int32_t*>(&text[0]),
                                      6, &n),
          "ids_out overlaps text");
  refused(seqattn_model_encode_source(model, text.c_str(), nullptr, 0,
                                      reinterpret_cast<int32_t*>(&text[4])),
          "len_out overlaps text");
  refused(seqattn_model_source_spans(model, text.c_str(), reinterpret_cast<int32_t*>(&text[0]), 3,
                                     &n),
          "spans_out overlaps text");
  std::vector<int32_t> spans(8, -7);
  refused(seqattn_model_source_spans(model, text.c_str(), spans.data(), 4, &spans[7]),
          "count_out overlaps spans_out");
  EXPECT_EQ(text, text_before);
  EXPECT_EQ(n, -7);
  EXPECT_EQ(spans, std::vector<int32_t>(8, -7));

  const std::string date = "21 nov 2026";
  int32_t src_steps = 0;
  ASSERT_EQ(seqattn_model_encode_source(model, date.c_str(), nullptr, 0, &src_steps), SEQATTN_OK);
  std::vector<int32_t> src(static_cast<size_t>(src_steps));
  ASSERT_EQ(seqattn_model_encode_source(model, date.c_str(), src.data(), src_steps, &src_steps),
            SEQATTN_OK);
  const std::vector<int32_t> src_before = src;
  std::vector<int32_t> src_len{src_steps};

  // Ids in, text out.
  std::vector<int32_t> ids{info.target_start, info.target_end, info.target_pad, info.target_pad};
  const std::vector<int32_t> ids_before = ids;
  size_t bytes = 99;
  refused(seqattn_model_decode_target(model, ids.data(), 4, reinterpret_cast<char*>(&ids[2]), 8,
                                      &bytes),
          "text_out overlaps ids");
  EXPECT_EQ(ids, ids_before);
  EXPECT_EQ(bytes, 99u);

  // Greedy decoding.
  const int32_t steps = 12;
  std::vector<int32_t> out(steps, -7), out_len(1, -7);
  std::vector<float> attention = sentinels(size_t(steps) * size_t(src_steps));
  // An output laid over an input inside one allocation (never past a
  // buffer's end, where the next buffer may lie).
  std::vector<int32_t> arena(4096, 0);
  std::copy(src.begin(), src.end(), arena.begin());
  const std::vector<int32_t> arena_before = arena;
  refused(seqattn_model_translate(h(), model, 1, src_steps, arena.data(), src_len.data(), steps,
                                  arena.data() + 2, out_len.data(), nullptr),
          "out_tokens overlaps src_tokens");
  refused(seqattn_model_translate(h(), model, 1, src_steps, src.data(), src_len.data(), steps,
                                  out.data(), src_len.data(), nullptr),
          "out_lengths overlaps src_lengths");
  refused(seqattn_model_translate(h(), model, 1, src_steps, src.data(), src_len.data(), steps,
                                  arena.data() + 100, out_len.data(),
                                  reinterpret_cast<float*>(arena.data() + 103)),
          "attention_out overlaps out_tokens");
  refused(seqattn_model_translate(h(), model, 1, src_steps, src.data(), src_len.data(), steps,
                                  out.data(), &out[steps - 1], attention.data()),
          "out_lengths overlaps out_tokens");
  EXPECT_EQ(src, src_before);
  EXPECT_EQ(arena, arena_before);
  EXPECT_EQ(src_len, std::vector<int32_t>{src_steps});
  EXPECT_EQ(out, std::vector<int32_t>(steps, -7));
  EXPECT_EQ(out_len, std::vector<int32_t>(1, -7));
  EXPECT_TRUE(untouched(attention, "attention_out"));
  // The same buffers, apart: decodes.
  EXPECT_EQ(seqattn_model_translate(h(), model, 1, src_steps, src.data(), src_len.data(), steps,
                                    out.data(), out_len.data(), attention.data()),
            SEQATTN_OK)
      << seqattn_last_error();

  // Teacher-forced scoring.
  std::vector<int32_t> tgt_in{info.target_start, info.target_start, info.target_start};
  const std::vector<int32_t> tgt_before = tgt_in;
  std::vector<float> probs = sentinels(size_t(3) * size_t(info.target_vocab_size));
  std::vector<float> att = sentinels(size_t(3) * size_t(src_steps));
  std::copy(tgt_in.begin(), tgt_in.end(), arena.begin() + 1000);
  const std::vector<int32_t> arena_before_score = arena;
  refused(seqattn_model_score(h(), model, 1, src_steps, src.data(), src_len.data(), 3,
                              arena.data() + 1000, nullptr,
                              reinterpret_cast<float*>(arena.data() + 1002), nullptr),
          "probs_out overlaps tgt_in_tokens");
  refused(seqattn_model_score(h(), model, 1, src_steps, arena.data(), src_len.data(), 3,
                              tgt_in.data(), nullptr, probs.data(),
                              reinterpret_cast<float*>(arena.data() + 5)),
          "attention_out overlaps src_tokens");
  EXPECT_EQ(arena, arena_before_score);
  refused(seqattn_model_score(h(), model, 1, src_steps, src.data(), src_len.data(), 3,
                              tgt_in.data(), nullptr, probs.data(), probs.data() + 1),
          "attention_out overlaps probs_out");
  EXPECT_EQ(tgt_in, tgt_before);
  EXPECT_EQ(src, src_before);
  EXPECT_TRUE(untouched(probs, "probs_out"));
  EXPECT_TRUE(untouched(att, "attention_out"));
#endif
}

// A pointer the caller can recognise, to show `out` was not written.
seqattn_handle marker_handle() {
  static int marker;
  return reinterpret_cast<seqattn_handle>(&marker);
}

TEST(HandleValidation, CreateRejectsBadOptions) {
  seqattn_handle_options good;
  seqattn_handle_options_init(&good);
  seqattn_handle out = marker_handle();

  EXPECT_EQ(seqattn_handle_create(nullptr, &out), SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(names(seqattn_last_error(), "options"));
  EXPECT_EQ(seqattn_handle_create(&good, nullptr), SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(names(seqattn_last_error(), "out"));

  const std::pair<const char*, std::function<void(seqattn_handle_options&)>> rules[] = {
      {"options->struct_size", [](seqattn_handle_options& o) { o.struct_size = 0; }},
      {"options->struct_size", [](seqattn_handle_options& o) { o.struct_size -= 4; }},
      {"options->struct_size", [](seqattn_handle_options& o) { o.struct_size += 8; }},
      {"options->device_ordinal", [](seqattn_handle_options& o) { o.device_ordinal = -1; }},
      {"options->device_ordinal", [](seqattn_handle_options& o) { o.device_ordinal = kMin32; }},
  };
  for (const auto& [arg, breaks] : rules) {
    SCOPED_TRACE(arg);
    seqattn_handle_options o = good;
    breaks(o);
    EXPECT_EQ(seqattn_handle_create(&o, &out), SEQATTN_ERROR_INVALID_ARGUMENT);
    EXPECT_TRUE(names(seqattn_last_error(), arg));
    EXPECT_EQ(out, marker_handle());
  }
  for (int bad : {3, -1, 1000}) {
    SCOPED_TRACE("enum value " + std::to_string(bad));
    EXPECT_EQ(call_handle_create_with(bad, SEQATTN_MATH_PRECISE, &out),
              SEQATTN_ERROR_INVALID_ARGUMENT);
    EXPECT_TRUE(names(seqattn_last_error(), "options->device"));
    EXPECT_EQ(call_handle_create_with(SEQATTN_DEVICE_CPU, bad, &out),
              SEQATTN_ERROR_INVALID_ARGUMENT);
    EXPECT_TRUE(names(seqattn_last_error(), "options->math"));
    EXPECT_EQ(out, marker_handle());
  }
  // Both math modes are accepted on both CPU devices.
  for (int device : {SEQATTN_DEVICE_CPU, SEQATTN_DEVICE_CPU_REFERENCE})
    for (int math : {SEQATTN_MATH_PRECISE, SEQATTN_MATH_FAST}) {
      seqattn_handle made = nullptr;
      EXPECT_EQ(call_handle_create_with(device, math, &made), SEQATTN_OK);
      EXPECT_NE(made, nullptr);
      seqattn_handle_destroy(made);
    }
  seqattn_handle_destroy(nullptr);  // a no-op
}

TEST(HandleValidation, NullHandleEverywhere) {
  seqattn_device device = SEQATTN_DEVICE_CUDA;
  EXPECT_EQ(seqattn_synchronize(nullptr), SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(names(seqattn_last_error(), "handle"));
  EXPECT_EQ(seqattn_handle_get_device(nullptr, &device), SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(names(seqattn_last_error(), "handle"));
  EXPECT_EQ(device, SEQATTN_DEVICE_CUDA);
  void* p = &device;
  EXPECT_EQ(seqattn_malloc(nullptr, 16, &p), SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(names(seqattn_last_error(), "handle"));
  EXPECT_EQ(p, static_cast<void*>(&device));
  EXPECT_EQ(seqattn_free(nullptr, p), SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(seqattn_copy_to_device(nullptr, p, p, 4), SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(seqattn_copy_to_host(nullptr, p, p, 4), SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(names(seqattn_last_error(), "handle"));
}

TEST_F(Validation, GetDeviceAndMemory) {
  EXPECT_EQ(seqattn_handle_get_device(h(), nullptr), SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(names(seqattn_last_error(), "out"));
  EXPECT_EQ(seqattn_malloc(h(), 16, nullptr), SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(names(seqattn_last_error(), "out"));

  void* p = nullptr;
  ASSERT_EQ(seqattn_malloc(h(), 64, &p), SEQATTN_OK);
  std::vector<float> host = sentinels(16);
  EXPECT_EQ(seqattn_copy_to_device(h(), nullptr, host.data(), 64), SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(names(seqattn_last_error(), "dst"));
  EXPECT_EQ(seqattn_copy_to_device(h(), p, nullptr, 64), SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(names(seqattn_last_error(), "host_src"));
  EXPECT_EQ(seqattn_copy_to_host(h(), nullptr, p, 64), SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(names(seqattn_last_error(), "host_dst"));
  EXPECT_EQ(seqattn_copy_to_host(h(), host.data(), nullptr, 64), SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(names(seqattn_last_error(), "src"));
  EXPECT_TRUE(untouched(host, "host"));
  EXPECT_EQ(seqattn_free(h(), p), SEQATTN_OK);
}

TEST_F(Validation, FreeRefusesForeignPointers) {
  // Memory seqattn did not allocate.
  void* foreign = std::malloc(64);
  ASSERT_NE(foreign, nullptr);
  EXPECT_EQ(seqattn_free(h(), foreign), SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(names(seqattn_last_error(), "ptr"));
  std::free(foreign);  // still ours: seqattn did not free it
  int on_stack = 0;
  EXPECT_EQ(seqattn_free(h(), &on_stack), SEQATTN_ERROR_INVALID_ARGUMENT);

  // Memory of another handle, and a second free of the same pointer.
  seqattn::Handle other;
  void* p = nullptr;
  ASSERT_EQ(seqattn_malloc(other.get(), 32, &p), SEQATTN_OK);
  EXPECT_EQ(seqattn_free(h(), p), SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(seqattn_free(other.get(), p), SEQATTN_OK);
  EXPECT_EQ(seqattn_free(other.get(), p), SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(names(seqattn_last_error(), "ptr"));
  EXPECT_EQ(seqattn_free(h(), nullptr), SEQATTN_OK);  // NULL: a no-op
}

}  // namespace
}  // namespace seqattn_test
