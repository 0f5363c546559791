// The fast CPU path's tanh roofline, measured in the same run as the rows:
// the library's own tanh (this binary compiles src/fast/kernels.cpp, whose
// calibration loop runs the tanh of tanh-inl.h on register-resident vectors,
// dispatched to the same SIMD target as the library) on as many threads as
// the library uses, concurrently: the best of nine rounds of 40 ms. The rows divide
// their tanh/s by this rate: the fraction of the machine's tanh throughput
// that the fused kernel reaches with its loads, reductions, softmax and
// products around it.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "common.hpp"
#include "fast/kernels.hpp"

namespace bench {

int cpu_threads() {
  const char* info = seqattn_cpu_info();
  const char* at = std::strstr(info, "threads ");
  const int n = at ? std::atoi(at + 8) : 0;
  return n > 0 ? n : 1;
}

namespace {

// One round: every thread runs the loop for about 40 ms; the rates add up.
double round_rate(bool fast, int threads) {
  std::vector<double> rates(size_t(threads), 0.0);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      float checksum = 0;
      seqattn::fast::tanh_throughput_loop(fast, 20000, &checksum);  // warm up
      const auto start = std::chrono::steady_clock::now();
      int64_t done = 0;
      double seconds = 0;
      while (seconds < 0.04) {
        done += seqattn::fast::tanh_throughput_loop(fast, 20000, &checksum);
        seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      }
      rates[size_t(t)] = double(done) / seconds + (checksum == 12345.0f ? 1 : 0);
    });
  for (auto& th : pool) th.join();
  double total = 0;
  for (double r : rates) total += r;
  return total;
}

// The best of nine rounds: the machine is shared, and a round that another
// process slowed says nothing about what the hardware does. The best round
// is the ceiling the rows are measured against.
double measure(bool fast) {
  const int threads = cpu_threads();
  double total = 0;
  for (int k = 0; k < 9; ++k) total = std::max(total, round_rate(fast, threads));
  std::printf("cpu tanh roofline (%s, %s, %d threads): %.3g tanh/s\n", fast ? "fast" : "precise",
              seqattn::fast::simd_target_name(), threads, total);
  return total;
}

}  // namespace

double cpu_tanh_per_s(seqattn_math math) {
  static std::once_flag once[2];
  static double rate[2];
  const int k = math == SEQATTN_MATH_FAST ? 1 : 0;
  std::call_once(once[k], [&] { rate[k] = measure(k == 1); });
  return rate[k];
}

}  // namespace bench
