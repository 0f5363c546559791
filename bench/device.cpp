// The device-dependent half of common.hpp. In a build without CUDA
// (SEQATTN_WITH_CUDA undefined) every GPU entry point says so and the CPU rows
// are all that is registered.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <utility>

#include "common.hpp"

#if defined(SEQATTN_WITH_CUDA)
#include <cuda_runtime.h>
#if defined(SEQATTN_WITH_CUDNN)
#include <cudnn.h>
#endif
#endif

namespace bench {
namespace {

#if defined(SEQATTN_WITH_CUDA)
void cuda_check(cudaError_t err, const char* what) {
  if (err != cudaSuccess)
    throw std::runtime_error(std::string(what) + ": " + cudaGetErrorName(err) + ": " +
                             cudaGetErrorString(err));
}

GpuInfo query_gpu() {
  GpuInfo info;
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess || count == 0) {
    info.why_absent = err != cudaSuccess ? std::string("cudaGetDeviceCount: ") +
                                               cudaGetErrorString(err)
                                         : "cudaGetDeviceCount found 0 devices";
    (void)cudaGetLastError();  // leave no error behind for the next CUDA call to report
    return info;
  }
  int dev = 0;
  cuda_check(cudaGetDevice(&dev), "cudaGetDevice");
  cudaDeviceProp prop{};
  cuda_check(cudaGetDeviceProperties(&prop, dev), "cudaGetDeviceProperties");
  auto attr = [dev](cudaDeviceAttr a) {
    int v = 0;
    cuda_check(cudaDeviceGetAttribute(&v, a, dev), "cudaDeviceGetAttribute");
    return v;
  };
  info.present = true;
  info.ordinal = dev;
  info.name = prop.name;
  info.sm_count = attr(cudaDevAttrMultiProcessorCount);
  // CUDA 13 removed cudaDeviceProp::clockRate and memoryClockRate; the
  // attributes remain the supported way to read them (kHz, peak values).
  info.sm_clock_hz = double(attr(cudaDevAttrClockRate)) * 1e3;
  const double mem_clock_hz = double(attr(cudaDevAttrMemoryClockRate)) * 1e3;
  const double bus_bytes = double(attr(cudaDevAttrGlobalMemoryBusWidth)) / 8.0;
  info.dram_bytes_per_s = 2.0 * mem_clock_hz * bus_bytes;
  info.l2_bytes = size_t(attr(cudaDevAttrL2CacheSize));
#if defined(SEQATTN_WITH_CUDNN)
  info.cudnn_version = int(cudnnGetVersion());
#endif
  return info;
}
#else
GpuInfo query_gpu() {
  GpuInfo info;
  info.why_absent = "this build has no CUDA (SEQATTN_WITH_CUDA is OFF)";
  return info;
}

[[noreturn]] void no_cuda() {
  throw std::runtime_error("this build of the benchmarks has no CUDA (SEQATTN_WITH_CUDA is OFF)");
}
#endif

double host_seconds() {
  using clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

int g_checks_failed = 0;

}  // namespace

void check(seqattn_status status, const char* what) {
  if (status != SEQATTN_OK)
    throw std::runtime_error(std::string(what) + ": " + seqattn_status_string(status) + ": " +
                             seqattn_last_error());
}

const GpuInfo& gpu() {
  static const GpuInfo info = query_gpu();
  return info;
}

// ---------------------------------------------------------------- Tensor

Tensor::Tensor(Space space, size_t count, size_t elem_bytes)
    : space_(space), count_(count), elem_bytes_(elem_bytes) {
  const size_t bytes = std::max<size_t>(count * elem_bytes, 1);
  if (space == Space::kHost) {
    ptr_ = std::malloc(bytes);
    if (!ptr_) throw std::runtime_error("out of host memory");
  } else {
#if defined(SEQATTN_WITH_CUDA)
    cuda_check(cudaMalloc(&ptr_, bytes), "cudaMalloc");
#else
    no_cuda();
#endif
  }
}

Tensor::~Tensor() { release(); }

Tensor::Tensor(Tensor&& other) noexcept { *this = std::move(other); }

Tensor& Tensor::operator=(Tensor&& other) noexcept {
  if (this != &other) {
    release();
    space_ = other.space_;
    ptr_ = std::exchange(other.ptr_, nullptr);
    count_ = std::exchange(other.count_, 0);
    elem_bytes_ = other.elem_bytes_;
  }
  return *this;
}

void Tensor::release() noexcept {
  if (!ptr_) return;
  if (space_ == Space::kHost) {
    std::free(ptr_);
  } else {
#if defined(SEQATTN_WITH_CUDA)
    (void)cudaFree(ptr_);
#endif
  }
  ptr_ = nullptr;
}

void Tensor::upload(const void* host, size_t bytes) {
  if (bytes > this->bytes()) throw std::logic_error("Tensor::upload: too many bytes");
  if (space_ == Space::kHost) {
    std::memcpy(ptr_, host, bytes);
    return;
  }
#if defined(SEQATTN_WITH_CUDA)
  cuda_check(cudaMemcpy(ptr_, host, bytes, cudaMemcpyHostToDevice), "cudaMemcpy to device");
#endif
}

void Tensor::download(void* host, size_t bytes) const {
  if (bytes > this->bytes()) throw std::logic_error("Tensor::download: too many bytes");
  if (space_ == Space::kHost) {
    std::memcpy(host, ptr_, bytes);
    return;
  }
#if defined(SEQATTN_WITH_CUDA)
  // cudaMemcpy runs on the legacy default stream, which waits for every blocking
  // stream (the Stopwatch's stream is one).
  cuda_check(cudaMemcpy(host, ptr_, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy to host");
#endif
}

std::vector<float> Tensor::to_host() const {
  std::vector<float> out(bytes() / sizeof(float));
  download(out.data(), out.size() * sizeof(float));
  return out;
}

Tensor make_tensor(Space space, const std::vector<float>& host) {
  Tensor t(space, host.size());
  t.upload(host.data(), host.size() * sizeof(float));
  return t;
}

std::vector<float> random_vector(size_t n, float scale, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> out(n);
  for (float& x : out) x = dist(gen);
  return out;
}

const char* device_name(Device d) {
  switch (d) {
    case Device::kReference: return "reference";
    case Device::kCpu: return "cpu";
    case Device::kCuda: return "cuda";
  }
  return "?";
}

Handle::Handle(Device device, seqattn_math math, void* cuda_stream) {
  seqattn_handle_options options;
  seqattn_handle_options_init(&options);
  options.device = device == Device::kCuda  ? SEQATTN_DEVICE_CUDA
                   : device == Device::kCpu ? SEQATTN_DEVICE_CPU
                                            : SEQATTN_DEVICE_CPU_REFERENCE;
  options.device_ordinal = device == Device::kCuda ? gpu().ordinal : 0;
  options.cuda_stream = cuda_stream;
  options.math = math;
  check(seqattn_handle_create(&options, &handle_), "seqattn_handle_create");
}

// ---------------------------------------------------------------- memory probe

size_t gpu_free_bytes() {
#if defined(SEQATTN_WITH_CUDA)
  cuda_check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  size_t free_bytes = 0, total_bytes = 0;
  cuda_check(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
  return free_bytes;
#else
  no_cuda();
#endif
}

void gpu_copy_to_host(void* host, const void* device, size_t bytes) {
#if defined(SEQATTN_WITH_CUDA)
  cuda_check(cudaMemcpy(host, device, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy to host");
#else
  (void)host, (void)device, (void)bytes;
  no_cuda();
#endif
}

MemoryProbe::MemoryProbe(Space space) : space_(space) {
  if (space_ == Space::kCuda) free_before_ = gpu_free_bytes();
}

double MemoryProbe::extra_bytes() const {
  if (space_ != Space::kCuda) return 0.0;
  const size_t now = gpu_free_bytes();
  return now < free_before_ ? double(free_before_ - now) : 0.0;
}

// ---------------------------------------------------------------- Stopwatch

Stopwatch::Stopwatch(Space space) : space_(space) {
  if (space_ != Space::kCuda) return;
#if defined(SEQATTN_WITH_CUDA)
  cudaStream_t stream = nullptr;
  cudaEvent_t start = nullptr, stop = nullptr;
  // A blocking stream: the plain cudaMemcpy of Tensor::download then waits for it.
  cuda_check(cudaStreamCreate(&stream), "cudaStreamCreate");
  stream_ = stream;
  cuda_check(cudaEventCreate(&start), "cudaEventCreate");
  start_event_ = start;
  cuda_check(cudaEventCreate(&stop), "cudaEventCreate");
  stop_event_ = stop;
  flush_bytes_ = 2 * gpu().l2_bytes;
  if (flush_bytes_ > 0) cuda_check(cudaMalloc(&flush_, flush_bytes_), "cudaMalloc (L2 flush)");
#else
  no_cuda();
#endif
}

Stopwatch::~Stopwatch() {
#if defined(SEQATTN_WITH_CUDA)
  if (flush_) (void)cudaFree(flush_);
  if (stop_event_) (void)cudaEventDestroy(static_cast<cudaEvent_t>(stop_event_));
  if (start_event_) (void)cudaEventDestroy(static_cast<cudaEvent_t>(start_event_));
  if (stream_) (void)cudaStreamDestroy(static_cast<cudaStream_t>(stream_));
#endif
}

void Stopwatch::synchronize() const {
#if defined(SEQATTN_WITH_CUDA)
  if (stream_)
    cuda_check(cudaStreamSynchronize(static_cast<cudaStream_t>(stream_)), "cudaStreamSynchronize");
#endif
}

void Stopwatch::start() {
  if (space_ != Space::kCuda) {
    host_start_ = host_seconds();
    return;
  }
#if defined(SEQATTN_WITH_CUDA)
  auto stream = static_cast<cudaStream_t>(stream_);
  if (flush_) cuda_check(cudaMemsetAsync(flush_, 0, flush_bytes_, stream), "L2 flush");
  cuda_check(cudaEventRecord(static_cast<cudaEvent_t>(start_event_), stream), "cudaEventRecord");
#endif
}

double Stopwatch::stop() {
  if (space_ != Space::kCuda) return host_seconds() - host_start_;
#if defined(SEQATTN_WITH_CUDA)
  auto stop_event = static_cast<cudaEvent_t>(stop_event_);
  cuda_check(cudaEventRecord(stop_event, static_cast<cudaStream_t>(stream_)), "cudaEventRecord");
  cuda_check(cudaEventSynchronize(stop_event), "cudaEventSynchronize");
  // A kernel that faulted inside the region must not pass as a fast iteration.
  cuda_check(cudaGetLastError(), "a launch inside the timed region");
  float ms = 0.0f;
  cuda_check(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start_event_), stop_event),
             "cudaEventElapsedTime");
  return double(ms) * 1e-3;
#else
  return 0.0;
#endif
}

// ---------------------------------------------------------------- counters

void set_counters(benchmark::State& state, const Work& work, Device device, seqattn_math math,
                  double total_seconds, double extra_bytes) {
  using benchmark::Counter;
  const auto rate = Counter::kIsIterationInvariantRate;  // value per iteration, shown per second
  if (work.tanh > 0) state.counters["tanh"] = Counter(work.tanh, rate);
  state.counters["bytes"] = Counter(work.bytes, rate);
  if (work.flops > 0) state.counters["flop"] = Counter(work.flops, rate);
  const double iters = double(state.iterations());
  if (device == Device::kCpu && work.tanh > 0 && total_seconds > 0)
    state.counters["roofline"] = work.tanh * iters / total_seconds / cpu_tanh_per_s(math);
  if (device != Device::kCuda) return;
  if (work.tanh > 0 && total_seconds > 0 && gpu().tanh_per_s() > 0)
    state.counters["roofline"] = work.tanh * iters / total_seconds / gpu().tanh_per_s();
  state.counters["extra_MiB"] = extra_bytes / double(1 << 20);
}

// ---------------------------------------------------------------- checks

double relative_error(const std::vector<float>& got, const std::vector<float>& ref) {
  if (got.size() != ref.size()) return INFINITY;
  double diff = 0.0, norm = 0.0;
  for (size_t k = 0; k < ref.size(); ++k) {
    const double d = double(got[k]) - double(ref[k]);
    diff += d * d;
    norm += double(ref[k]) * double(ref[k]);
  }
  if (std::isnan(diff)) return NAN;
  if (norm == 0.0) return diff == 0.0 ? 0.0 : INFINITY;
  return std::sqrt(diff / norm);
}

void report_check(const std::string& name, double err, double bound) {
  const bool ok = err <= bound;  // NaN fails
  if (!ok) ++g_checks_failed;
  std::printf("check %-44s rel err %.2e (bound %.0e) %s\n", name.c_str(), err, bound,
              ok ? "ok" : "FAIL");
}

void report_check_skipped(const std::string& name, const std::string& why) {
  std::printf("check %-44s skipped: %s\n", name.c_str(), why.c_str());
}

bool checks_failed() { return g_checks_failed > 0; }

}  // namespace bench
