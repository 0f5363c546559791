// What every benchmark row shares: tensors in host or device memory, a
// stopwatch (host clock for CPU rows, CUDA events for GPU rows), the device's
// ceilings, the peak-extra-memory probe and the counters.
//
// The rows call seqattn only through its C API. Everything CUDA-specific lives
// in device.cpp behind these declarations, so this header and the CPU rows
// compile in a build without CUDA.
#pragma once

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "seqattn/seqattn.h"

namespace bench {

// Throws std::runtime_error("<what>: <status>: <seqattn_last_error()>") unless ok;
// each row turns the exception into SkipWithError, so one failing peer does
// not end the run.
void check(seqattn_status status, const char* what);

// ---------------------------------------------------------------- the GPU

// The GPU the rows run on, read once from the CUDA runtime.
struct GpuInfo {
  bool present = false;
  std::string why_absent;  // the runtime's reason when !present
  std::string name;
  int ordinal = 0;
  int sm_count = 0;          // cudaDevAttrMultiProcessorCount
  double sm_clock_hz = 0;    // cudaDevAttrClockRate (peak SM clock, kHz in the API)
  double dram_bytes_per_s = 0;  // 2 x memory clock x bus width (double data rate)
  size_t l2_bytes = 0;
  int cudnn_version = 0;     // cudnnGetVersion(), 0 when the bench has no cuDNN

  // The tanh roofline: MUFU.TANH retires 16 results per SM per clock on sm_80/sm_90.
  double tanh_per_s() const { return double(sm_count) * 16.0 * sm_clock_hz; }
};
const GpuInfo& gpu();

// ---------------------------------------------------------------- memory

enum class Space { kHost, kCuda };

// What a row runs on: the double-precision reference, the fast CPU path (both
// in host memory) or CUDA. Row names say it: seqattn_reference, seqattn_cpu,
// seqattn_cuda.
enum class Device { kReference, kCpu, kCuda };
inline Space space_of(Device d) { return d == Device::kCuda ? Space::kCuda : Space::kHost; }
const char* device_name(Device d);  // "reference", "cpu", "cuda"

// A flat float / int32 array in host memory or device memory. Owns it.
class Tensor {
 public:
  Tensor() = default;
  Tensor(Space space, size_t count, size_t elem_bytes = sizeof(float));
  ~Tensor();
  Tensor(Tensor&& other) noexcept;
  Tensor& operator=(Tensor&& other) noexcept;
  Tensor(const Tensor&) = delete;
  Tensor& operator=(const Tensor&) = delete;

  float* f() const { return static_cast<float*>(ptr_); }
  int32_t* i() const { return static_cast<int32_t*>(ptr_); }
  size_t count() const { return count_; }
  size_t bytes() const { return count_ * elem_bytes_; }

  void upload(const void* host, size_t bytes);  // from host memory
  void download(void* host, size_t bytes) const;
  std::vector<float> to_host() const;

 private:
  void release() noexcept;
  Space space_ = Space::kHost;
  void* ptr_ = nullptr;
  size_t count_ = 0;
  size_t elem_bytes_ = 4;
};

Tensor make_tensor(Space space, const std::vector<float>& host);

// Uniform in [-scale, scale): never zeros, which hide unwritten outputs and can
// run faster than real data.
std::vector<float> random_vector(size_t n, float scale, uint32_t seed);

// A seqattn handle on `device` (the current GPU for CUDA); a CUDA handle is
// bound to the row's stream, so the Stopwatch's events bracket exactly its work.
class Handle {
 public:
  Handle(Device device, seqattn_math math, void* cuda_stream);
  ~Handle() { seqattn_handle_destroy(handle_); }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  operator seqattn_handle() const { return handle_; }  // NOLINT: used as the C handle

 private:
  seqattn_handle handle_ = nullptr;
};

// Extra device memory a row takes beyond its inputs and outputs: the free
// device memory when constructed minus the free memory at sample(). Take the
// first sample after the first call, when workspaces have grown. Zero on CPU.
class MemoryProbe {
 public:
  explicit MemoryProbe(Space space);
  double extra_bytes() const;  // samples now (after a device synchronisation)

 private:
  Space space_;
  size_t free_before_ = 0;
};

// GPU rows make one warm-up call (it grows the handle's workspaces before the
// timing) and return the device memory it kept; CPU rows return 0 untouched.
template <class Body>
double warm_up_extra_bytes(Space space, seqattn_handle handle, const MemoryProbe& probe,
                           Body&& body) {
  if (space != Space::kCuda) return 0.0;
  body();
  check(seqattn_synchronize(handle), "seqattn_synchronize");
  return probe.extra_bytes();
}

size_t gpu_free_bytes();  // cudaMemGetInfo, after synchronising the device
void gpu_copy_to_host(void* host, const void* device, size_t bytes);

// ---------------------------------------------------------------- timing

// Times one iteration. GPU rows own a CUDA stream that every library under
// test is bound to; start() first overwrites a buffer twice the L2 size so no
// iteration finds its inputs cached by the last one, then records an event;
// stop() records the second event and waits for it. CPU rows read the host
// clock (the CPU reference is synchronous).
class Stopwatch {
 public:
  explicit Stopwatch(Space space);
  ~Stopwatch();
  Stopwatch(const Stopwatch&) = delete;
  Stopwatch& operator=(const Stopwatch&) = delete;

  void* stream() const { return stream_; }  // cudaStream_t, nullptr for CPU rows
  void synchronize() const;
  void start();
  double stop();  // seconds since start()

 private:
  Space space_;
  void* stream_ = nullptr;
  void* start_event_ = nullptr;
  void* stop_event_ = nullptr;
  void* flush_ = nullptr;
  size_t flush_bytes_ = 0;
  double host_start_ = 0;
};

// Runs `body` once per benchmark iteration between start() and stop(), reports
// the time with SetIterationTime (the rows use UseManualTime) and returns the
// total seconds. GPU rows make one untimed call first, so module loading,
// handle set-up and workspace growth stay out of the figures.
template <class Body>
double timed_loop(benchmark::State& state, Stopwatch& watch, Body&& body) {
  double total = 0.0;
  for (auto _ : state) {
    watch.start();
    body();
    const double seconds = watch.stop();
    state.SetIterationTime(seconds);
    total += seconds;
  }
  return total;
}

// ---------------------------------------------------------------- counters

// The work of one iteration, counted from the shapes (not from what an
// implementation happens to do), so every row of one shape is measured
// against the same numbers.
struct Work {
  double tanh = 0;   // transcendental evaluations (tanh, sigmoid, exp): MUFU results
  double bytes = 0;  // compulsory traffic: every input read once, every output written once
  double flops = 0;  // multiply-adds x 2 of the GEMMs
};

// Sets the counters of a row: tanh/s, bytes/s and flop/s (rates over the
// measured time); the tanh-roofline fraction on GPU rows (against the MUFU
// peak) and fast-CPU rows (against cpu_tanh_per_s of the row's math mode);
// extra_MiB on GPU rows.
void set_counters(benchmark::State& state, const Work& work, Device device, seqattn_math math,
                  double total_seconds, double extra_bytes);

// The fast CPU path's tanh roofline on this machine, measured once per math
// mode in this run: the same tanh routine (src/fast/tanh-inl.h, compiled into
// the benchmark from the library's own kernels.cpp) in a calibration loop on
// register-resident vectors, on as many threads as the library uses
// (cpu_roofline.cpp).
double cpu_tanh_per_s(seqattn_math math);
int cpu_threads();  // the threads the fast CPU path uses (seqattn_cpu_info)

// Registers a row that catches exceptions from `fn` and reports them as the
// row's error, so the other rows still run.
template <class Fn>
benchmark::internal::Benchmark* add_row(const std::string& name, Fn fn) {
  return benchmark::RegisterBenchmark(name.c_str(), [fn](benchmark::State& state) {
           try {
             fn(state);
           } catch (const std::exception& e) {
             state.SkipWithError(e.what());
           }
         })
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
}

// ---------------------------------------------------------------- checks

// ||got - ref|| / ||ref|| over the whole tensor (0 when both are zero).
double relative_error(const std::vector<float>& got, const std::vector<float>& ref);

// Prints "check <name>: rel err <e> (bound <b>) ok|FAIL" and records failures;
// checks_failed() is the binary's exit status.
void report_check(const std::string& name, double err, double bound);
void report_check_skipped(const std::string& name, const std::string& why);
bool checks_failed();

// ---------------------------------------------------------------- the rows

void register_attention_rows(bool with_gpu);
void register_layer_rows(bool with_gpu);
void check_attention(bool with_gpu);
void check_layers(bool with_gpu);
void register_decode_rows(bool with_gpu);  // decode_rows.cpp
void check_decode(bool with_gpu);

}  // namespace bench
