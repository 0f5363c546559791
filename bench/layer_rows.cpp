// GRU and Dense rows: seqattn on the double-precision reference, the fast CPU
// path and a CUDA handle, and cuDNN's GRU as the GPU peer (torch.nn.GRU is
// the CPU peer, in compare_cpu.py).
//
// Row names: gru/<impl>/B:<batch>/T:<steps>/H:<units = input_dim>,
//            dense/<impl>_<activation>/rows:<rows>/in:<in>/out:<out>.
#include <cmath>
#include <cstdio>
#include <string>
#include <tuple>
#include <vector>

#include "common.hpp"

#if defined(SEQATTN_WITH_CUDNN)
#include "cudnn_gru.hpp"
#endif

namespace bench {
namespace {

// ---------------------------------------------------------------- GRU

seqattn_rnn_dims gru_dims_of(const benchmark::State& state) {
  const int H = int(state.range(2));
  return seqattn_rnn_dims{int(state.range(0)), int(state.range(1)), H, H};
}

size_t gru_bias_count(const seqattn_rnn_dims& d, seqattn_gru_variant variant) {
  return size_t(variant == SEQATTN_GRU_RESET_AFTER ? 2 : 1) * 3 * size_t(d.units);
}

Work gru_work(const seqattn_rnn_dims& d, seqattn_gru_variant variant) {
  const double B = d.batch, T = d.steps, I = d.input_dim, H = d.units;
  Work w;
  w.tanh = 3.0 * B * T * H;  // per unit and step: the candidate's tanh and two sigmoids
  w.bytes = 4.0 * (B * T * I + I * 3 * H + H * 3 * H + double(gru_bias_count(d, variant)) +
                   B * T * H + B * H);
  w.flops = 2.0 * B * T * 3 * H * (I + H);
  return w;
}

// Weights on the host (the cuDNN peer converts them) and every tensor in `space`.
struct GruInputs {
  std::vector<float> kernel, recurrent, bias;  // [I, 3H] [H, 3H] [2, 3H] or [3H]
  Tensor x, d_kernel, d_recurrent, d_bias, outputs, h_last;  // x [B,T,I], outputs [B,T,H]

  GruInputs(Space space, const seqattn_rnn_dims& d, seqattn_gru_variant variant, uint32_t seed) {
    const size_t B = size_t(d.batch), T = size_t(d.steps), I = size_t(d.input_dim);
    const size_t H = size_t(d.units);
    kernel = random_vector(I * 3 * H, 1.0f / std::sqrt(float(I)), seed + 1);
    recurrent = random_vector(H * 3 * H, 1.0f / std::sqrt(float(H)), seed + 2);
    bias = random_vector(gru_bias_count(d, variant), 0.1f, seed + 3);
    x = make_tensor(space, random_vector(B * T * I, 1.0f, seed + 4));
    d_kernel = make_tensor(space, kernel);
    d_recurrent = make_tensor(space, recurrent);
    d_bias = make_tensor(space, bias);
    outputs = Tensor(space, B * T * H);
    h_last = Tensor(space, B * H);
  }
};

void seqattn_gru(seqattn_handle handle, const seqattn_rnn_dims& d, seqattn_gru_variant variant,
                 const GruInputs& in) {
  check(seqattn_gru_forward(handle, &d, variant, 0, in.x.f(), nullptr, nullptr, in.d_kernel.f(),
                            in.d_recurrent.f(), in.d_bias.f(), in.outputs.f(), in.h_last.f()),
        "seqattn_gru_forward");
}

void seqattn_gru_row(benchmark::State& state, Device device, seqattn_gru_variant variant) {
  const seqattn_rnn_dims d = gru_dims_of(state);
  const Space space = space_of(device);
  Stopwatch watch(space);
  Handle handle(device, SEQATTN_MATH_PRECISE, watch.stream());
  GruInputs in(space, d, variant, 5);
  MemoryProbe probe(space);
  auto body = [&] { seqattn_gru(handle, d, variant, in); };
  const double extra = warm_up_extra_bytes(space, handle, probe, body);
  const double total = timed_loop(state, watch, body);
  set_counters(state, gru_work(d, variant), device, SEQATTN_MATH_PRECISE, total, extra);
}

#if defined(SEQATTN_WITH_CUDNN)
void cudnn_gru_row(benchmark::State& state, CudnnGru::Math math) {
  const seqattn_rnn_dims d = gru_dims_of(state);
  Stopwatch watch(Space::kCuda);
  GruInputs in(Space::kCuda, d, SEQATTN_GRU_RESET_AFTER, 5);
  CudnnGru gru(d, math, watch.stream());
  gru.set_weights(in.kernel.data(), in.recurrent.data(), in.bias.data());  // its own copy
  MemoryProbe probe(Space::kCuda);
  auto body = [&] { gru.forward(in.x.f(), in.outputs.f(), in.h_last.f()); };
  body();
  watch.synchronize();
  const double extra = probe.extra_bytes();
  const double total = timed_loop(state, watch, body);
  set_counters(state, gru_work(d, SEQATTN_GRU_RESET_AFTER), Device::kCuda, SEQATTN_MATH_PRECISE,
               total, extra);
}
#endif

// ---------------------------------------------------------------- Dense

struct Activation {
  seqattn_activation value;
  const char* name;
  bool transcendental;  // tanh, sigmoid and softmax spend one MUFU result per output
};
constexpr Activation kActivations[] = {{SEQATTN_ACTIVATION_NONE, "none", false},
                                       {SEQATTN_ACTIVATION_TANH, "tanh", true},
                                       {SEQATTN_ACTIVATION_SIGMOID, "sigmoid", true},
                                       {SEQATTN_ACTIVATION_RELU, "relu", false},
                                       {SEQATTN_ACTIVATION_SOFTMAX, "softmax", true}};

struct DenseInputs {
  Tensor x, W, b, y;  // [rows, in] [in, out] [out] [rows, out]
  DenseInputs(Space space, int64_t rows, int in, int out, uint32_t seed) {
    x = make_tensor(space, random_vector(size_t(rows) * size_t(in), 1.0f, seed + 1));
    W = make_tensor(space, random_vector(size_t(in) * size_t(out), 1.0f / std::sqrt(float(in)),
                                         seed + 2));
    b = make_tensor(space, random_vector(size_t(out), 0.1f, seed + 3));
    y = Tensor(space, size_t(rows) * size_t(out));
  }
};

void dense_row(benchmark::State& state, Device device, Activation act) {
  const int64_t rows = state.range(0);
  const int in_dim = int(state.range(1)), out_dim = int(state.range(2));
  const Space space = space_of(device);
  Stopwatch watch(space);
  Handle handle(device, SEQATTN_MATH_PRECISE, watch.stream());
  DenseInputs in(space, rows, in_dim, out_dim, 9);
  MemoryProbe probe(space);
  auto body = [&] {
    check(seqattn_dense_forward(handle, rows, in_dim, out_dim, in.x.f(), in.W.f(), in.b.f(),
                                act.value, in.y.f()),
          "seqattn_dense_forward");
  };
  const double extra = warm_up_extra_bytes(space, handle, probe, body);
  const double total = timed_loop(state, watch, body);
  const double R = double(rows), I = in_dim, O = out_dim;
  Work w;
  w.tanh = act.transcendental ? R * O : 0.0;
  w.bytes = 4.0 * (R * I + I * O + O + R * O);
  w.flops = 2.0 * R * I * O;
  set_counters(state, w, device, SEQATTN_MATH_PRECISE, total, extra);
}

// ---------------------------------------------------------------- shapes

void add_gru_shapes(benchmark::internal::Benchmark* row,
                    const std::vector<std::vector<int64_t>>& shapes) {
  row->ArgNames({"B", "T", "H"});
  for (const auto& args : shapes) row->Args(args);
}

// The attention's reference shape (B = 64, T = 128, I = H = 256), T 16..1024, H 64..1024.
std::vector<std::vector<int64_t>> gru_gpu_shapes() {
  std::vector<std::vector<int64_t>> shapes;
  for (int64_t T = 16; T <= 1024; T *= 2) shapes.push_back({64, T, 256});
  for (int64_t H = 64; H <= 1024; H *= 2)
    if (H != 256) shapes.push_back({64, 128, H});
  return shapes;
}

const char* variant_name(seqattn_gru_variant v) {
  return v == SEQATTN_GRU_RESET_AFTER ? "reset_after" : "reset_before";
}

// Dense at the rows of a decoder's output projection over the reference shape (B·T).
const std::vector<int64_t> kDenseShape = {64 * 128, 256, 256};

}  // namespace

void register_layer_rows(bool with_gpu) {
  for (seqattn_gru_variant v : {SEQATTN_GRU_RESET_AFTER, SEQATTN_GRU_RESET_BEFORE}) {
    const std::string ref = std::string("gru/seqattn_reference_") + variant_name(v);
    auto ref_fn = [v](benchmark::State& st) { seqattn_gru_row(st, Device::kReference, v); };
    add_gru_shapes(add_row(ref, ref_fn), {{8, 32, 256}});
    add_gru_shapes(add_row(ref, ref_fn)->Iterations(1), {{64, 128, 256}});
    const std::string cpu = std::string("gru/seqattn_cpu_") + variant_name(v);
    auto cpu_fn = [v](benchmark::State& st) { seqattn_gru_row(st, Device::kCpu, v); };
    add_gru_shapes(add_row(cpu, cpu_fn), {{8, 32, 256}, {64, 128, 256}, {64, 128, 128}});
  }
  for (const Activation& act : kActivations)
    for (Device dev : {Device::kReference, Device::kCpu})
      add_row(std::string("dense/seqattn_") + device_name(dev) + "_" + act.name,
              [act, dev](benchmark::State& st) { dense_row(st, dev, act); })
          ->ArgNames({"rows", "in", "out"})
          ->Args(kDenseShape);
  if (!with_gpu) return;

  for (seqattn_gru_variant v : {SEQATTN_GRU_RESET_AFTER, SEQATTN_GRU_RESET_BEFORE})
    add_gru_shapes(add_row(std::string("gru/seqattn_cuda_") + variant_name(v),
                           [v](benchmark::State& st) { seqattn_gru_row(st, Device::kCuda, v); }),
                   gru_gpu_shapes());
#if defined(SEQATTN_WITH_CUDNN)
  add_gru_shapes(add_row("gru/cudnn_fp32",
                         [](benchmark::State& st) { cudnn_gru_row(st, CudnnGru::Math::kFp32); }),
                 gru_gpu_shapes());
  add_gru_shapes(add_row("gru/cudnn_tf32",
                         [](benchmark::State& st) { cudnn_gru_row(st, CudnnGru::Math::kTf32); }),
                 gru_gpu_shapes());
#else
  std::printf("cuDNN rows skipped: the benchmarks were built without cuDNN\n");
#endif
  for (const Activation& act : kActivations)
    add_row(std::string("dense/seqattn_cuda_") + act.name,
            [act](benchmark::State& st) { dense_row(st, Device::kCuda, act); })
        ->ArgNames({"rows", "in", "out"})
        ->Args(kDenseShape);
}

// ---------------------------------------------------------------- checks

// The fast CPU and GPU rows against the double-precision reference on small
// odd shapes.
void check_layers(bool with_gpu) {
  const seqattn_rnn_dims d{3, 11, 13, 17};  // B, T, I, H
  Handle cpu(Device::kReference, SEQATTN_MATH_PRECISE, nullptr);

  auto gru_result = [](const GruInputs& in) {
    std::vector<float> out = in.outputs.to_host();
    const std::vector<float> last = in.h_last.to_host();
    out.insert(out.end(), last.begin(), last.end());
    return out;
  };
  for (seqattn_gru_variant v : {SEQATTN_GRU_RESET_AFTER, SEQATTN_GRU_RESET_BEFORE}) {
    GruInputs ref(Space::kHost, d, v, 21);
    seqattn_gru(cpu, d, v, ref);
    const std::vector<float> expected = gru_result(ref);
    for (Device dev : {Device::kCpu, Device::kCuda}) {
      if (dev == Device::kCuda && !with_gpu) continue;
      const std::string name = std::string("gru/seqattn_") + device_name(dev) + "_" + variant_name(v);
      try {
        Stopwatch watch(space_of(dev));
        Handle handle(dev, SEQATTN_MATH_PRECISE, watch.stream());
        GruInputs in(space_of(dev), d, v, 21);
        seqattn_gru(handle, d, v, in);
        check(seqattn_synchronize(handle), "seqattn_synchronize");
        report_check(name, relative_error(gru_result(in), expected), 1e-5);
      } catch (const std::exception& e) {
        report_check_skipped(name, e.what());
      }
    }
#if defined(SEQATTN_WITH_CUDNN)
    if (v != SEQATTN_GRU_RESET_AFTER || !with_gpu) continue;
    // TF32 keeps 10 mantissa bits of each product's operands: ~1e-3 relative.
    for (auto [math, label, bound] : {std::tuple{CudnnGru::Math::kFp32, "gru/cudnn_fp32", 1e-5},
                                      std::tuple{CudnnGru::Math::kTf32, "gru/cudnn_tf32", 1e-2}}) {
      try {
        Stopwatch watch(Space::kCuda);
        GruInputs in(Space::kCuda, d, v, 21);
        CudnnGru gru(d, math, watch.stream());
        gru.set_weights(in.kernel.data(), in.recurrent.data(), in.bias.data());
        gru.forward(in.x.f(), in.outputs.f(), in.h_last.f());
        watch.synchronize();
        report_check(label, relative_error(gru_result(in), expected), bound);
      } catch (const std::exception& e) {
        report_check_skipped(label, e.what());
      }
    }
#endif
  }

  const int64_t rows = 37;
  const int in_dim = 29, out_dim = 23;
  for (const Activation& act : kActivations) {
    DenseInputs ref(Space::kHost, rows, in_dim, out_dim, 31);
    check(seqattn_dense_forward(cpu, rows, in_dim, out_dim, ref.x.f(), ref.W.f(), ref.b.f(),
                                act.value, ref.y.f()),
          "CPU reference dense");
    for (Device dev : {Device::kCpu, Device::kCuda}) {
      if (dev == Device::kCuda && !with_gpu) continue;
      const std::string name = std::string("dense/seqattn_") + device_name(dev) + "_" + act.name;
      try {
        Stopwatch watch(space_of(dev));
        Handle handle(dev, SEQATTN_MATH_PRECISE, watch.stream());
        DenseInputs in(space_of(dev), rows, in_dim, out_dim, 31);
        check(seqattn_dense_forward(handle, rows, in_dim, out_dim, in.x.f(), in.W.f(), in.b.f(),
                                    act.value, in.y.f()),
              "seqattn_dense_forward");
        check(seqattn_synchronize(handle), "seqattn_synchronize");
        report_check(name, relative_error(in.y.to_host(), ref.y.to_host()), 1e-5);
      } catch (const std::exception& e) {
        report_check_skipped(name, e.what());
      }
    }
  }
}

}  // namespace bench
