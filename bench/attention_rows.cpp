// Additive attention rows: seqattn (all decoder steps in one call, on the
// double-precision reference, the fast CPU path and a CUDA handle, in both
// math modes where they differ), the two step-by-step
// loops a decoder that attends one step at a time runs, and the unfused cuBLAS
// composition that materialises [B, Td, Te, A].
//
// Row names: attention/<impl>/B:<batch>/T:<Td = Te>/A:<units>/H:<He = Hd>.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "common.hpp"

#if defined(SEQATTN_WITH_CUDA)
#include "unfused_attention.hpp"
#endif

namespace bench {
namespace {

struct Shape {
  int B, T, A, H;
};

seqattn_attention_dims dims_of(const Shape& s) {
  return seqattn_attention_dims{s.B, s.T, s.T, s.H, s.H, s.A};
}

Shape shape_of(const benchmark::State& state) {
  return Shape{int(state.range(0)), int(state.range(1)), int(state.range(2)), int(state.range(3))};
}

// Counted from the shape, the same for every implementation of it.
Work attention_work(const seqattn_attention_dims& d) {
  const double B = d.batch, Te = d.enc_steps, Td = d.dec_steps;
  const double He = d.enc_dim, Hd = d.dec_dim, A = d.units;
  Work w;
  w.tanh = B * Td * Te * A;
  // h, s, W, U, bias, v read; context written (no weights requested).
  w.bytes = 4.0 * (B * Te * He + B * Td * Hd + He * A + Hd * A + 2.0 * A + B * Td * He);
  // The two projections and the context product; the energies are the tanh work.
  w.flops = 2.0 * A * (B * Te * He + B * Td * Hd) + 2.0 * B * Td * Te * He;
  return w;
}

// The inputs of one shape in one memory space. The decoder states also come
// time-major ([Td, B, Hd]) for the step loops: a decoder produces s_t for the
// whole batch at step t, so slice t is the contiguous [B, 1, Hd] that a
// dec_steps = 1 call takes; their contexts go to [Td, B, He] likewise.
struct AttentionInputs {
  seqattn_attention_dims d;
  Tensor h, s, W, U, bias, v, context;  // [B,Te,He] [B,Td,Hd] [He,A] [Hd,A] [A] [A] [B,Td,He]

  AttentionInputs(Space space, const seqattn_attention_dims& dims, uint32_t seed) : d(dims) {
    const size_t B = size_t(d.batch), Te = size_t(d.enc_steps), Td = size_t(d.dec_steps);
    const size_t He = size_t(d.enc_dim), Hd = size_t(d.dec_dim), A = size_t(d.units);
    // Weights scaled by 1/sqrt(fan-in), so keys + q stay in tanh's curved range.
    h = make_tensor(space, random_vector(B * Te * He, 1.0f, seed + 1));
    s = make_tensor(space, random_vector(B * Td * Hd, 1.0f, seed + 2));
    W = make_tensor(space, random_vector(He * A, 1.0f / std::sqrt(float(He)), seed + 3));
    U = make_tensor(space, random_vector(Hd * A, 1.0f / std::sqrt(float(Hd)), seed + 4));
    bias = make_tensor(space, random_vector(A, 0.1f, seed + 5));
    v = make_tensor(space, random_vector(A, 1.0f / std::sqrt(float(A)), seed + 6));
    context = Tensor(space, B * Td * He);
  }
};

enum class Impl { kAllSteps, kStepReproject, kStepTwoPhase };

// One decoder step at a time through the C API: dec_steps = 1 calls on slice t
// of the time-major decoder states. kStepReproject re-projects the keys in
// every call (what the attention_keras layer does); kStepTwoPhase projects them
// once and reuses them (project_keys + forward_projected).
void run_steps(Impl impl, seqattn_handle handle, const AttentionInputs& in, const float* s_steps,
               const int32_t* enc_lengths, float* keys, float* context_steps) {
  seqattn_attention_dims one = in.d;
  one.dec_steps = 1;
  const size_t s_stride = size_t(in.d.batch) * size_t(in.d.dec_dim);
  const size_t c_stride = size_t(in.d.batch) * size_t(in.d.enc_dim);
  if (impl == Impl::kStepTwoPhase)
    check(seqattn_additive_attention_project_keys(handle, &in.d, in.h.f(), in.W.f(), in.bias.f(),
                                                  keys),
          "seqattn_additive_attention_project_keys");
  for (int t = 0; t < in.d.dec_steps; ++t) {
    const float* s_t = s_steps + size_t(t) * s_stride;  // [B, 1, Hd]
    float* c_t = context_steps + size_t(t) * c_stride;   // [B, 1, He]
    if (impl == Impl::kStepReproject)
      check(seqattn_additive_attention_forward(handle, &one, in.h.f(), s_t, enc_lengths, nullptr,
                                               in.W.f(), in.U.f(), in.bias.f(), in.v.f(), c_t,
                                               nullptr),
            "seqattn_additive_attention_forward (one step)");
    else
      check(seqattn_additive_attention_forward_projected(handle, &one, in.h.f(), keys, s_t,
                                                         enc_lengths, nullptr, in.U.f(), in.v.f(),
                                                         c_t, nullptr),
            "seqattn_additive_attention_forward_projected (one step)");
  }
}

// [B, Td, X] -> [Td, B, X] (and back with the roles swapped).
std::vector<float> swap_batch_time(const std::vector<float>& x, size_t outer, size_t inner,
                                   size_t X) {
  std::vector<float> y(x.size());
  for (size_t o = 0; o < outer; ++o)
    for (size_t i = 0; i < inner; ++i)
      std::copy_n(x.begin() + std::ptrdiff_t((o * inner + i) * X), X,
                  y.begin() + std::ptrdiff_t((i * outer + o) * X));
  return y;
}

void seqattn_row(benchmark::State& state, Device device, seqattn_math math, Impl impl) {
  const seqattn_attention_dims d = dims_of(shape_of(state));
  const Space space = space_of(device);
  Stopwatch watch(space);
  Handle handle(device, math, watch.stream());
  AttentionInputs in(space, d, 7);
  const size_t B = size_t(d.batch), Td = size_t(d.dec_steps);
  Tensor s_steps, context_steps, keys;
  if (impl != Impl::kAllSteps) {
    s_steps = Tensor(space, Td * B * size_t(d.dec_dim));
    std::vector<float> host = in.s.to_host();
    host = swap_batch_time(host, B, Td, size_t(d.dec_dim));
    s_steps.upload(host.data(), host.size() * sizeof(float));
    context_steps = Tensor(space, Td * B * size_t(d.enc_dim));
  }
  MemoryProbe probe(space);
  if (impl == Impl::kStepTwoPhase)
    keys = Tensor(space, B * size_t(d.enc_steps) * size_t(d.units));  // the caller's buffer

  auto body = [&] {
    if (impl == Impl::kAllSteps)
      check(seqattn_additive_attention_forward(handle, &d, in.h.f(), in.s.f(), nullptr, nullptr,
                                               in.W.f(), in.U.f(), in.bias.f(), in.v.f(),
                                               in.context.f(), nullptr),
            "seqattn_additive_attention_forward");
    else
      run_steps(impl, handle, in, s_steps.f(), nullptr, keys.f(), context_steps.f());
  };
  const double extra = warm_up_extra_bytes(space, handle, probe, body);
  const double total = timed_loop(state, watch, body);
  set_counters(state, attention_work(d), device, math, total, extra);
}

// A training step's attention: the forward (weights_out kept) and the
// backward from a given d_context, all decoder steps in one call each. The
// counters count both: the tanh twice (the backward recomputes it), the
// forward's products and the backward's eight (d_context·hᵀ, wᵀ·d_context,
// the two projections again, d_q·Uᵀ, sᵀ·d_q, hᵀ·d_keys, d_keys·Wᵀ).
Work train_work(const seqattn_attention_dims& d) {
  const double B = d.batch, Te = d.enc_steps, Td = d.dec_steps;
  const double He = d.enc_dim, Hd = d.dec_dim, A = d.units;
  Work w = attention_work(d);
  w.tanh *= 2.0;
  w.flops = 2.0 * w.flops + 2.0 * (2.0 * B * Td * Te * He) + 2.0 * A * 2.0 * (B * Te * He + B * Td * Hd);
  // The backward reads the forward's inputs, the weights and d_context, and
  // writes every gradient.
  w.bytes += 4.0 * (2.0 * B * Td * Te + B * Td * He + B * Te * He + B * Td * Hd + He * A +
                    Hd * A + 2.0 * A) + 4.0 * B * Td * Te;
  return w;
}

void train_row(benchmark::State& state, Device device, seqattn_math math) {
  const seqattn_attention_dims d = dims_of(shape_of(state));
  const Space space = space_of(device);
  Stopwatch watch(space);
  Handle handle(device, math, watch.stream());
  AttentionInputs in(space, d, 7);
  const size_t B = size_t(d.batch), Te = size_t(d.enc_steps), Td = size_t(d.dec_steps);
  const size_t He = size_t(d.enc_dim), Hd = size_t(d.dec_dim), A = size_t(d.units);
  Tensor weights(space, B * Td * Te);
  Tensor d_context = make_tensor(space, random_vector(B * Td * He, 1.0f, 17));
  Tensor d_enc(space, B * Te * He), d_dec(space, B * Td * Hd), d_W(space, He * A),
      d_U(space, Hd * A), d_bias(space, A), d_v(space, A);
  MemoryProbe probe(space);
  auto body = [&] {
    check(seqattn_additive_attention_forward(handle, &d, in.h.f(), in.s.f(), nullptr, nullptr,
                                             in.W.f(), in.U.f(), in.bias.f(), in.v.f(),
                                             in.context.f(), weights.f()),
          "seqattn_additive_attention_forward");
    check(seqattn_additive_attention_backward(handle, &d, in.h.f(), in.s.f(), nullptr, nullptr,
                                              in.W.f(), in.U.f(), in.bias.f(), in.v.f(),
                                              weights.f(), d_context.f(), nullptr, d_enc.f(),
                                              d_dec.f(), d_W.f(), d_U.f(), d_bias.f(), d_v.f()),
          "seqattn_additive_attention_backward");
  };
  // No memory counter on the CPU: this process's peak resident set is set by
  // the rows before; compare_torch_backward.py measures each implementation
  // in a fresh process instead.
  const double extra = warm_up_extra_bytes(space, handle, probe, body);
  const double total = timed_loop(state, watch, body);
  set_counters(state, train_work(d), device, math, total, extra);
}

#if defined(SEQATTN_WITH_CUDA)
void unfused_row(benchmark::State& state) {
  const seqattn_attention_dims d = dims_of(shape_of(state));
  Stopwatch watch(Space::kCuda);
  AttentionInputs in(Space::kCuda, d, 7);
  // The peer needs its [B, Td, Te, A] tensor; leave 10% of the free memory spare.
  const double need = double(UnfusedAttention::intermediate_bytes(d));
  const double free_bytes = double(gpu_free_bytes());
  if (need > 0.9 * free_bytes) {
    char msg[160];
    std::snprintf(msg, sizeof msg, "the [B,Td,Te,A] intermediates need %.1f GiB, %.1f GiB free",
                  need / double(1u << 30), free_bytes / double(1u << 30));
    state.SkipWithError(msg);
    return;
  }
  MemoryProbe probe(Space::kCuda);
  UnfusedAttention unfused(d, watch.stream());
  auto body = [&] {
    unfused.forward(in.h.f(), in.s.f(), nullptr, in.W.f(), in.U.f(), in.bias.f(), in.v.f(),
                    in.context.f());
  };
  body();
  watch.synchronize();
  const double extra = probe.extra_bytes();
  const double total = timed_loop(state, watch, body);
  set_counters(state, attention_work(d), Device::kCuda, SEQATTN_MATH_PRECISE, total, extra);
}
#endif

// ---------------------------------------------------------------- shapes

constexpr int kRefB = 64, kRefT = 128, kRefA = 256, kRefH = 256;

// Shapes the double-precision reference finishes on a 2-core machine in well
// under a second per call; the reference shape itself runs once (Iterations(1)).
// The first is the ctest smoke row.
std::vector<Shape> cpu_shapes() {
  std::vector<Shape> shapes = {{2, 16, 32, 32}};
  for (int T = 16; T <= 64; T *= 2) shapes.push_back({8, T, kRefA, kRefH});
  return shapes;
}

void add_shapes(benchmark::internal::Benchmark* row, const std::vector<Shape>& shapes) {
  row->ArgNames({"B", "T", "A", "H"});
  for (const Shape& s : shapes) row->Args({s.B, s.T, s.A, s.H});
}

benchmark::internal::Benchmark* add_seqattn_row(const char* name, Device device,
                                                seqattn_math math, Impl impl) {
  return add_row(name, [=](benchmark::State& st) { seqattn_row(st, device, math, impl); });
}

}  // namespace

void register_attention_rows(bool with_gpu) {
  const Device ref = Device::kReference, cpu = Device::kCpu;
  const seqattn_math precise = SEQATTN_MATH_PRECISE, fast = SEQATTN_MATH_FAST;
  add_shapes(add_seqattn_row("attention/seqattn_reference", ref, precise, Impl::kAllSteps),
             cpu_shapes());
  add_shapes(
      add_seqattn_row("attention/seqattn_reference", ref, precise, Impl::kAllSteps)->Iterations(1),
      {{kRefB, kRefT, kRefA, kRefH}});
  // The fast CPU path: the shapes above, the reference shape, T 16..512 at the
  // reference batch and B 1..256 at the reference length.
  std::vector<Shape> fast_shapes = cpu_shapes();
  for (int T = 16; T <= 512; T *= 2) fast_shapes.push_back({kRefB, T, kRefA, kRefH});
  for (int B : {1, 8, 256}) fast_shapes.push_back({B, kRefT, kRefA, kRefH});
  add_shapes(add_seqattn_row("attention/seqattn_cpu_precise", cpu, precise, Impl::kAllSteps),
             fast_shapes);
  add_shapes(add_seqattn_row("attention/seqattn_cpu_fast", cpu, fast, Impl::kAllSteps),
             fast_shapes);
  const std::vector<Shape> cpu_step_shapes = {{8, 32, kRefA, kRefH}};
  add_shapes(add_seqattn_row("attention/step_reproject_reference", ref, precise,
                             Impl::kStepReproject),
             cpu_step_shapes);
  add_shapes(add_seqattn_row("attention/step_two_phase_reference", ref, precise,
                             Impl::kStepTwoPhase),
             cpu_step_shapes);
  // Decoding on the fast path: one decoder step at a time, keys projected
  // once, at batch 1 and 64 (the time per row is Td = T steps).
  const std::vector<Shape> decode_shapes = {
      {8, 32, kRefA, kRefH}, {1, kRefT, kRefA, kRefH}, {kRefB, kRefT, kRefA, kRefH}};
  add_shapes(add_seqattn_row("attention/step_reproject_cpu", cpu, precise, Impl::kStepReproject),
             decode_shapes);
  add_shapes(add_seqattn_row("attention/step_two_phase_cpu", cpu, precise, Impl::kStepTwoPhase),
             decode_shapes);
  // A training step (forward + backward), fast CPU path: the smoke shape and
  // the reference shape (bench/compare_torch_backward.py times PyTorch on it).
  const std::vector<Shape> train_shapes = {{2, 16, 32, 32}, {kRefB, kRefT, kRefA, kRefH}};
  add_shapes(add_row("attention_train/seqattn_cpu_precise",
                     [=](benchmark::State& st) { train_row(st, cpu, precise); }),
             train_shapes);
  add_shapes(add_row("attention_train/seqattn_cpu_fast",
                     [=](benchmark::State& st) { train_row(st, cpu, fast); }),
             train_shapes);
  if (!with_gpu) return;

#if defined(SEQATTN_WITH_CUDA)
  const Device cuda = Device::kCuda;
  add_shapes(add_row("attention_train/seqattn_cuda_precise",
                     [=](benchmark::State& st) { train_row(st, cuda, precise); }),
             train_shapes);
  // The reference shape, the T sweep (16..1024) and the A sweep (64..1024).
  std::vector<Shape> shapes;
  for (int T = 16; T <= 1024; T *= 2) shapes.push_back({kRefB, T, kRefA, kRefH});
  for (int A = 64; A <= 1024; A *= 2)
    if (A != kRefA) shapes.push_back({kRefB, kRefT, A, kRefH});
  add_shapes(add_seqattn_row("attention/seqattn_cuda_precise", cuda, precise, Impl::kAllSteps),
             shapes);
  add_shapes(add_seqattn_row("attention/seqattn_cuda_fast", cuda, fast, Impl::kAllSteps), shapes);
  add_shapes(add_row("attention/unfused_cublas", unfused_row), shapes);
  add_shapes(add_seqattn_row("attention/step_reproject_cuda", cuda, precise, Impl::kStepReproject),
             shapes);
  add_shapes(add_seqattn_row("attention/step_two_phase_cuda", cuda, precise, Impl::kStepTwoPhase),
             shapes);
#endif
}

// ---------------------------------------------------------------- checks

// Every implementation the rows time against the CPU reference's one-call
// result, on a small odd shape with a partial and an empty encoder row.
void check_attention(bool with_gpu) {
  const seqattn_attention_dims d{3, 37, 29, 48, 40, 72};  // B, Te, Td, He, Hd, A
  const std::vector<int32_t> enc_lengths = {37, 0, 20};
  const size_t B = 3, Td = 29, He = 48, Hd = 40;

  AttentionInputs host(Space::kHost, d, 11);
  Handle cpu(Device::kReference, SEQATTN_MATH_PRECISE, nullptr);
  Tensor ref_weights(Space::kHost, B * Td * size_t(d.enc_steps));
  check(seqattn_additive_attention_forward(cpu, &d, host.h.f(), host.s.f(), enc_lengths.data(),
                                           nullptr, host.W.f(), host.U.f(), host.bias.f(),
                                           host.v.f(), host.context.f(), ref_weights.f()),
        "CPU reference");
  const std::vector<float> ref = host.context.to_host();

  auto steps = [&](Device device, seqattn_math math, Impl impl) {
    const Space space = space_of(device);
    Stopwatch watch(space);
    Handle handle(device, math, watch.stream());
    AttentionInputs in(space, d, 11);  // the same seed: the same values
    std::vector<float> s = swap_batch_time(in.s.to_host(), B, Td, Hd);
    Tensor s_steps = make_tensor(space, s);
    Tensor context_steps(space, Td * B * He);
    Tensor keys(space, B * size_t(d.enc_steps) * size_t(d.units));
    if (impl == Impl::kAllSteps) {
      check(seqattn_additive_attention_forward(handle, &d, in.h.f(), in.s.f(), enc_lengths.data(),
                                               nullptr, in.W.f(), in.U.f(), in.bias.f(), in.v.f(),
                                               in.context.f(), nullptr),
            "seqattn_additive_attention_forward");
      check(seqattn_synchronize(handle), "seqattn_synchronize");
      return in.context.to_host();
    }
    run_steps(impl, handle, in, s_steps.f(), enc_lengths.data(), keys.f(), context_steps.f());
    check(seqattn_synchronize(handle), "seqattn_synchronize");
    return swap_batch_time(context_steps.to_host(), Td, B, He);
  };
  auto run = [&](const std::string& name, Device device, seqattn_math math, Impl impl,
                 double bound) {
    try {
      report_check(name, relative_error(steps(device, math, impl), ref), bound);
    } catch (const std::exception& e) {
      report_check_skipped(name, e.what());
    }
  };
  // The step loops agree with the one-call reference up to the float rounding
  // of the keys the two-phase form hands back.
  const seqattn_math precise = SEQATTN_MATH_PRECISE, fast = SEQATTN_MATH_FAST;
  run("attention/step_reproject_reference", Device::kReference, precise, Impl::kStepReproject,
      1e-6);
  run("attention/step_two_phase_reference", Device::kReference, precise, Impl::kStepTwoPhase,
      1e-5);
  // The fast CPU path; FAST within the bound of docs/math.md (tanh error
  // 1.5e-4 times Σ|v| ≈ 0.1 here, far below 2e-3).
  run("attention/seqattn_cpu_precise", Device::kCpu, precise, Impl::kAllSteps, 1e-5);
  run("attention/seqattn_cpu_fast", Device::kCpu, fast, Impl::kAllSteps, 2e-3);
  run("attention/step_reproject_cpu", Device::kCpu, precise, Impl::kStepReproject, 1e-5);
  run("attention/step_two_phase_cpu", Device::kCpu, precise, Impl::kStepTwoPhase, 1e-5);
  if (!with_gpu) return;

#if defined(SEQATTN_WITH_CUDA)
  run("attention/seqattn_cuda_precise", Device::kCuda, precise, Impl::kAllSteps, 1e-5);
  run("attention/seqattn_cuda_fast", Device::kCuda, fast, Impl::kAllSteps, 2e-3);
  run("attention/step_reproject_cuda", Device::kCuda, precise, Impl::kStepReproject, 1e-5);
  run("attention/step_two_phase_cuda", Device::kCuda, precise, Impl::kStepTwoPhase, 1e-5);
  try {
    Stopwatch watch(Space::kCuda);
    AttentionInputs in(Space::kCuda, d, 11);
    Tensor lengths(Space::kCuda, B, sizeof(int32_t));
    lengths.upload(enc_lengths.data(), B * sizeof(int32_t));
    UnfusedAttention unfused(d, watch.stream());
    unfused.forward(in.h.f(), in.s.f(), lengths.i(), in.W.f(), in.U.f(), in.bias.f(), in.v.f(),
                    in.context.f());
    watch.synchronize();
    report_check("attention/unfused_cublas (context)", relative_error(in.context.to_host(), ref),
                 1e-5);
    std::vector<float> weights(ref_weights.count());  // the peer keeps them in its own buffer
    gpu_copy_to_host(weights.data(), unfused.weights(), weights.size() * sizeof(float));
    report_check("attention/unfused_cublas (weights)",
                 relative_error(weights, ref_weights.to_host()), 1e-5);
  } catch (const std::exception& e) {
    report_check_skipped("attention/unfused_cublas", e.what());
  }
#endif
}

}  // namespace bench
