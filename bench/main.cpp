// seqattn_bench: seqattn against its peers and its CPU reference (README.md
// beside this file says what each row and counter means).
//
// Before the rows it checks, on small odd shapes, that every implementation it
// times computes the CPU reference's function (skip with --skip_checks); a
// failed check makes the exit status 1, so a fast wrong kernel cannot pass.
// Without a CUDA device only the CPU rows are registered.
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "common.hpp"

namespace {

void describe_machine(bool with_gpu) {
  const uint32_t features = seqattn_build_features();
  benchmark::AddCustomContext("seqattn_version", std::to_string(seqattn_version()));
  benchmark::AddCustomContext("seqattn_cuda", (features & SEQATTN_FEATURE_CUDA) ? "yes" : "no");
  benchmark::AddCustomContext("seqattn_openmp",
                              (features & SEQATTN_FEATURE_OPENMP) ? "yes" : "no");
  benchmark::AddCustomContext("host_threads", std::to_string(std::thread::hardware_concurrency()));
  std::printf("seqattn %u, CUDA backend %s, OpenMP %s, %u host threads\n", seqattn_version(),
              (features & SEQATTN_FEATURE_CUDA) ? "compiled in" : "not compiled in",
              (features & SEQATTN_FEATURE_OPENMP) ? "on" : "off",
              std::thread::hardware_concurrency());
  if (!with_gpu) {
    std::printf("GPU rows skipped: no CUDA device (%s)\n", bench::gpu().why_absent.c_str());
    return;
  }
  const bench::GpuInfo& g = bench::gpu();
  char line[320];
  std::snprintf(line, sizeof line,
                "%s: %d SMs at %.0f MHz (peak), tanh roofline %.3g/s; DRAM %.0f GB/s; L2 %.0f MiB",
                g.name.c_str(), g.sm_count, g.sm_clock_hz * 1e-6, g.tanh_per_s(),
                g.dram_bytes_per_s * 1e-9, double(g.l2_bytes) / double(1 << 20));
  std::printf("%s\n", line);
  if (g.cudnn_version) std::printf("cuDNN %d\n", g.cudnn_version);
  benchmark::AddCustomContext("gpu", g.name);
  benchmark::AddCustomContext("gpu_sm_count", std::to_string(g.sm_count));
  benchmark::AddCustomContext("gpu_sm_clock_mhz", std::to_string(g.sm_clock_hz * 1e-6));
  benchmark::AddCustomContext("gpu_tanh_roofline_per_s", std::to_string(g.tanh_per_s()));
  benchmark::AddCustomContext("gpu_dram_gb_per_s", std::to_string(g.dram_bytes_per_s * 1e-9));
  if (g.cudnn_version) benchmark::AddCustomContext("cudnn", std::to_string(g.cudnn_version));
}

}  // namespace

int main(int argc, char** argv) {
  // Our own flag first: benchmark::Initialize leaves unknown flags in argv.
  bool run_checks = true;
  int kept = 1;
  for (int k = 1; k < argc; ++k) {
    if (std::strcmp(argv[k], "--skip_checks") == 0)
      run_checks = false;
    else
      argv[kept++] = argv[k];
  }
  argc = kept;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  const bool with_gpu = bench::gpu().present;
  describe_machine(with_gpu);
  if (run_checks) {
    bench::check_attention(with_gpu);
    bench::check_layers(with_gpu);
    bench::check_decode(with_gpu);
  }
  bench::register_attention_rows(with_gpu);
  bench::register_layer_rows(with_gpu);
  bench::register_decode_rows(with_gpu);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (bench::checks_failed()) {
    std::fprintf(stderr, "seqattn_bench: a correctness check failed (see the 'check' lines)\n");
    return 1;
  }
  return 0;
}
