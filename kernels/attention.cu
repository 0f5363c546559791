// Fused additive (Bahdanau) attention: energies, masked softmax and context of
// a tile of decoder steps in one kernel, all decoder steps at once.
//
// What it computes (docs/math.md#additive-attention, in the kernel's terms), for
// b < B, t < Td, with Le = enc_lengths[b] and Ld = dec_lengths[b]:
//
//   e[b,t,i]     = Σ_a v[a]·tanh(keys[b,i,a] + q[b,t,a] + bias[a])   i < Le
//   w[b,t,:]     = softmax_i e[b,t,:]                0 for i >= Le
//   context[b,t] = Σ_i w[b,t,i]·h[b,i,:]
//
// keys [B, Te, A] and q [B, Td, A] are cuBLAS products (src/cuda/attention.cpp:
// keys = h·W once per source, q = s·U); bias is folded into the queries here, so
// the one-phase path never writes biased keys. h [B, Te, He], v [A],
// context [B, Td, He], weights [B, Td, Te]. Rows t >= Ld, and every row when
// Le = 0, are written as zeros and evaluate no tanh; positions i >= Le are
// never loaded and evaluate no tanh (to the granularity of a warp: the one
// 32-position group that straddles Le runs whole, its extra results dropped).
// [B, Td, Te, A] is never formed: the extra memory is the keys and queries,
// plus [B, Td, Te] of energy scratch when Te is too long for shared memory.
//
// Why the tiling is what it is
//   The work is B·Td·Te·A tanh, and tanh is one MUFU instruction (FAST) at 16
//   results per SM per clock, against 128 for FP32 add/FMA. Around each tanh
//   the kernel spends one add (key + query) and one FMA (v·tanh into the
//   energy), so it is MUFU-bound as long as operands come from registers. Each
//   thread therefore owns a 4×4 register tile of (t, i) energies and reduces
//   over A in those registers: per 4 units it loads 4 float4 of keys, 4 float4
//   of queries and a float4 each of v and bias from shared memory — 10 loads
//   for 64 tanh.
//   A warp spans 128 encoder positions (lane + 32·k) and 4 decoder steps, so
//   its query reads are broadcasts and every "is this row valid" test is
//   uniform across the warp. Key rows are padded from 32 to 36 floats: the 8
//   lanes of each quarter-warp read 16 bytes from 8 consecutive rows, which
//   then fall in 8 distinct groups of 4 banks — conflict-free.
//   A block is up to 8 warps stacked along t (32 decoder steps), all sharing
//   the staged keys, so each key is read from global memory once per 32
//   decoder steps. Fewer decoder steps (step-wise decoding, Td = 1) get a
//   narrower block rather than idle warps.
//   Keys, queries, v and bias move through shared memory in chunks of 32
//   units with cp.async into a double buffer: the next chunk loads while this
//   one is computed; zero-fill pads past A, past Le and past the valid rows.
//   With 2 blocks per SM (the launch bound caps registers at 128), one block's
//   softmax and context phase overlap the other's tanh phase.
//   The context Σ_i w·h is a small [rows, Le]·[Le, He] product: each warp item
//   is 8 decoder rows × 128 columns, lanes along He for coalesced reads of h.
//
// Step-wise decoding: the split path
//   With Td <= 4 the kernel above is one warp per batch row, so at B = 1 one
//   warp would work on the whole GPU. When there are few rows (B·Td <= 16;
//   the decode-latency case) the encoder positions are split instead: a block
//   of 4 warps per (chunk of positions, batch row) computes the chunk's
//   energies (a warp per position, lanes along A, queries + bias and v in
//   shared memory), their maximum m_c, s_c = Σ exp(e - m_c) and the partial
//   context Σ exp(e - m_c)·h, and writes them to scratch (the unnormalised
//   exp(e - m_c) also to weights, when asked). A second small kernel, a block
//   per (128 columns of He, batch row), rescales each chunk by
//   exp(m_c - m)/Σ_c s_c·exp(m_c - m) with m = max_c m_c, sums the partial
//   contexts and finishes the weights — the split-K pattern of decoding
//   attention. The rescale uses expf in both math modes, so FAST's bound
//   below holds for this path too (it adds only PRECISE-size rounding). Up
//   to 128 chunks of at least 32 positions: Te = 200 gives 7 blocks.
//
// Error of SEQATTN_MATH_FAST (tanh.approx.f32, ex2.approx.ftz.f32)
//   PRECISE uses tanhf and expf and agrees with the double-precision CPU
//   reference within 1e-5 + 1e-4·|x| (fp32 products and sums). FAST changes
//   only the two transcendental functions. The PTX ISA states:
//   - tanh.approx.f32: maximum relative error 2^-11 over the whole range.
//     (2^-10.987 is the ISA's maximum absolute error of the f16 forms.) The
//     bound below keeps 2^-10.987 anyway, 0.9% above 2^-11, as a margin for
//     the fp32 rounding of the tanh argument k + q + bias, which the
//     reference does in double: each term v_a·tanh(...) moves by at most
//     2^-10.987·|v_a| and every energy by at most 2^-10.987·Σ_a|v_a|.
//   - ex2.approx.ftz.f32: maximum error 2 ulp from the correctly rounded
//     result over the full range, so at most 2.5 ulp from 2^x, a relative
//     error of at most 2.5·2^-23. Scaling x = e - m by log2(e) in fp32 adds
//     |x|·2^-24 to the exponent, and |e - m| <= 2·Σ_a|v_a|: at most
//     2^-23·Σ_a|v_a|, which the 1.001 below covers (2^-23 < 0.001·2^-10.987).
//   Together every exp(e_i - m) is off by a factor within e^{±Δ}, with
//       Δ = 1.001·2^-10.987·Σ_a|v_a| + 2.5·2^-23,
//   and since a weight is a ratio of such terms,
//       |w_fast - w| <= ρ·w,                 ρ = e^{2Δ} - 1
//       |context_fast - context| <= ρ·Σ_i w_i·|h[b,i,k]|
//   on top of PRECISE's tolerance. With v ~ U(-1/√A, 1/√A), Σ|v| ≈ √A/2: for
//   A = 256, Δ ≈ 0.0039 and ρ ≈ 0.8%. It is a worst case (every tanh erring by
//   its full bound, in the same direction); typical errors are far smaller.
//   tests/common/cases.hpp (fast_rho) checks FAST against exactly this bound.
//   (Derived from the PTX ISA's stated errors; no GPU was available when this
//   was written, so the measured error on hardware is still to be added here.)
#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <string>

#include "attention.cuh"
#include "check.cuh"
#include "device_utils.cuh"

namespace seqattn::cuda {
namespace {

constexpr int kTT = 4;            // decoder steps per thread = per warp
constexpr int kTI = 4;            // encoder positions per thread, lane + 32·k
constexpr int kBI = 32 * kTI;     // encoder positions per tile
constexpr int kBA = 32;           // units per staged chunk
constexpr int kLd = kBA + 4;      // a staged row, padded for conflict-free float4 reads
constexpr int kMaxWarps = 8;      // 256 threads: 2 blocks per SM at <= 128 registers
constexpr int kCtxRows = 8;       // context: decoder rows per warp item
constexpr int kCtxCols = 32 * 4;  // context: He columns per warp item
// Shared memory a block may spend on its energies; longer rows go to global
// scratch. With the two 23 KB staging buffers a block stays under ~80 KB, so
// two fit on an SM of sm_80 (164 KB) and sm_90 (228 KB).
constexpr int kScoreSharedBytes = 32 * 1024;

__host__ __device__ constexpr int stage_floats(int block_rows) {
  return kBI * kLd + block_rows * kLd + 2 * kBA;  // keys, queries, v, bias
}

int warps_for(int32_t dec_steps) {
  return int(std::min<int64_t>(kMaxWarps, ceil_div(dec_steps, kTT)));
}

__device__ __forceinline__ float4 load4(const float* p) {
  return load_float4(p);
}

// Adds one staged chunk's contribution to the thread's 4×4 energies. kGuard:
// only the first nt rows and ni position groups are live (a tile edge).
template <bool kFast, bool kGuard>
__device__ __forceinline__ void energy_chunk(float (&acc)[kTT][kTI], const float* keys_row,
                                             const float* query_rows, const float* vs,
                                             const float* bs, int a_len, int nt, int ni) {
  for (int a = 0; a < a_len; a += 4) {
    const float4 v4 = load4(vs + a);
    const float4 b4 = load4(bs + a);
    float4 k4[kTI];
#pragma unroll
    for (int ti = 0; ti < kTI; ++ti) k4[ti] = load4(keys_row + ti * 32 * kLd + a);
#pragma unroll
    for (int tt = 0; tt < kTT; ++tt) {
      if (kGuard && tt >= nt) break;
      float4 q4 = load4(query_rows + tt * kLd + a);
      q4.x += b4.x;
      q4.y += b4.y;
      q4.z += b4.z;
      q4.w += b4.w;
#pragma unroll
      for (int ti = 0; ti < kTI; ++ti) {
        if (kGuard && ti >= ni) break;
        float e = acc[tt][ti];
        e = fmaf(v4.x, tanh_mode<kFast>(k4[ti].x + q4.x), e);
        e = fmaf(v4.y, tanh_mode<kFast>(k4[ti].y + q4.y), e);
        e = fmaf(v4.z, tanh_mode<kFast>(k4[ti].z + q4.z), e);
        e = fmaf(v4.w, tanh_mode<kFast>(k4[ti].w + q4.w), e);
        acc[tt][ti] = e;
      }
    }
  }
}

// One block per (b, tile of 4·warps decoder steps), looping when the grid is
// smaller than the work. Dynamic shared memory: two staging buffers of
// stage_floats(BT), then the tile's energies [BT, lds] when scores_shared.
template <bool kFast>
__global__ void __launch_bounds__(kMaxWarps * 32, 2)
    fused_attention_kernel(const FusedAttentionParams p, int tiles_per_row, bool scores_shared,
                           bool keys_vec) {
  SEQATTN_DYNAMIC_SHARED(float4, smem4);
  float* const smem = reinterpret_cast<float*>(smem4);
  const int nw = int(blockDim.x) / 32, warp = int(threadIdx.x) / 32, lane = int(threadIdx.x) % 32;
  const int BT = kTT * nw;
  const int Te = p.enc_steps, Td = p.dec_steps, He = p.enc_dim, A = p.units;
  const int64_t lds = ceil_div(Te, 4) * 4;
  const int n_achunks = int(ceil_div(A, kBA));
  const int64_t total = int64_t(p.batch) * tiles_per_row;

  for (int64_t work = blockIdx.x; work < total; work += gridDim.x) {
    const int b = int(work / tiles_per_row);
    const int t0 = int(work % tiles_per_row) * BT;
    const int Le = p.enc_lengths ? p.enc_lengths[b] : Te;
    const int Ld = p.dec_lengths ? p.dec_lengths[b] : Td;
    const int t_stop = min(t0 + BT, Td);                      // rows of this tile
    const int t_end = max(t0, min(t_stop, Le > 0 ? Ld : 0));  // rows [t0, t_end) attend
    float* const scores =
        scores_shared ? smem + 2 * stage_floats(BT) : p.scores + (int64_t(b) * Td + t0) * lds;

    if (t_end > t0) {
      // ---- energies: flattened loop over (position tile, unit chunk), the
      // next chunk in flight while this one is computed.
      const float* keys_b = p.keys + int64_t(b) * Te * p.keys_ld;
      const float* queries_b = p.queries + int64_t(b) * Td * p.queries_ld;
      const int64_t n_iter = ceil_div(Le, kBI) * n_achunks;

      auto issue = [&](int64_t it) {
        const int i0 = int(it / n_achunks) * kBI, a0 = int(it % n_achunks) * kBA;
        float* ks = smem + (it & 1) * stage_floats(BT);
        float* qs = ks + kBI * kLd;
        float* vs = qs + BT * kLd;
        if (keys_vec) {
          for (int idx = int(threadIdx.x); idx < kBI * (kBA / 4); idx += int(blockDim.x)) {
            const int r = idx / (kBA / 4), c = (idx % (kBA / 4)) * 4;
            const int i = i0 + r, a = a0 + c;
            const int bytes = i < Le ? 4 * min(max(A - a, 0), 4) : 0;
            cp_async_16(ks + r * kLd + c, bytes ? keys_b + int64_t(i) * p.keys_ld + a : p.keys,
                        bytes);
          }
        } else {  // keys from the caller with A % 4 != 0 or unaligned: 4-byte copies
          for (int idx = int(threadIdx.x); idx < kBI * kBA; idx += int(blockDim.x)) {
            const int r = idx / kBA, c = idx % kBA;
            const int i = i0 + r, a = a0 + c;
            const int bytes = (i < Le && a < A) ? 4 : 0;
            cp_async_4(ks + r * kLd + c, bytes ? keys_b + int64_t(i) * p.keys_ld + a : p.keys,
                       bytes);
          }
        }
        for (int idx = int(threadIdx.x); idx < BT * (kBA / 4); idx += int(blockDim.x)) {
          const int r = idx / (kBA / 4), c = (idx % (kBA / 4)) * 4;
          const int t = t0 + r, a = a0 + c;
          const int bytes = t < t_end ? 4 * min(max(A - a, 0), 4) : 0;
          cp_async_16(qs + r * kLd + c,
                      bytes ? queries_b + int64_t(t) * p.queries_ld + a : p.queries, bytes);
        }
        for (int idx = int(threadIdx.x); idx < 2 * kBA; idx += int(blockDim.x)) {
          const float* src = idx < kBA ? p.v : p.bias;  // vs and bs are contiguous
          const int a = a0 + idx % kBA;
          const int bytes = (src && a < A) ? 4 : 0;
          cp_async_4(vs + idx, bytes ? src + a : p.v, bytes);
        }
        cp_async_commit();
      };

      float acc[kTT][kTI] = {};
      issue(0);
      for (int64_t it = 0; it < n_iter; ++it) {
        if (it + 1 < n_iter)
          issue(it + 1);
        else
          cp_async_commit();  // an empty group keeps "all but the newest" meaning chunk `it`
        cp_async_wait<1>();
        __syncthreads();

        const int ia = int(it % n_achunks), i0 = int(it / n_achunks) * kBI, a0 = ia * kBA;
        const float* ks = smem + (it & 1) * stage_floats(BT);
        const float* qs = ks + kBI * kLd;
        const float* vs = qs + BT * kLd;
        if (ia == 0) {
#pragma unroll
          for (int tt = 0; tt < kTT; ++tt)
#pragma unroll
            for (int ti = 0; ti < kTI; ++ti) acc[tt][ti] = 0.0f;
        }
        const int nt = min(max(t_end - (t0 + warp * kTT), 0), kTT);
        const int ni = min(int(ceil_div(Le - i0, 32)), kTI);
        const int a_len = int(ceil_div(min(kBA, A - a0), 4)) * 4;  // zero-padded to 4
        if (nt == kTT && ni == kTI)
          energy_chunk<kFast, false>(acc, ks + lane * kLd, qs + warp * kTT * kLd, vs, vs + kBA,
                                     a_len, nt, ni);
        else if (nt > 0)
          energy_chunk<kFast, true>(acc, ks + lane * kLd, qs + warp * kTT * kLd, vs, vs + kBA,
                                    a_len, nt, ni);

        if (ia == n_achunks - 1) {
#pragma unroll
          for (int tt = 0; tt < kTT; ++tt)
#pragma unroll
            for (int ti = 0; ti < kTI; ++ti) {
              const int i = i0 + lane + 32 * ti;
              if (tt < nt && i < Le) scores[(warp * kTT + tt) * lds + i] = acc[tt][ti];
            }
        }
        __syncthreads();  // the buffer read here is refilled by the next issue
      }
      cp_async_wait<0>();

      // ---- masked softmax, a warp per row; weights written here when asked.
      const int rows = t_end - t0;
      for (int r = warp; r < rows; r += nw) {
        float* row = scores + r * lds;
        float m = -INFINITY;
        for (int i = lane; i < Le; i += 32) m = fmaxf(m, row[i]);
        m = warp_max(m);
        float sum = 0.0f;
        for (int i = lane; i < Le; i += 32) {
          const float x = exp_mode<kFast>(row[i] - m);
          row[i] = x;
          sum += x;
        }
        const float inv = 1.0f / warp_sum(sum);  // >= 1: the maximum contributes exp(0)
        for (int i = lane; i < Le; i += 32) row[i] *= inv;
        if (p.weights) {
          float* wrow = p.weights + (int64_t(b) * Td + t0 + r) * Te;
          for (int i = lane; i < Te; i += 32) wrow[i] = i < Le ? row[i] : 0.0f;
        }
      }
      __syncthreads();

      // ---- context[t, k] = Σ_i w[t, i]·h[i, k]
      const float* h_b = p.values + int64_t(b) * Te * He;
      const int n_colgroups = int(ceil_div(He, kCtxCols));
      const int n_items = int(ceil_div(rows, kCtxRows)) * n_colgroups;
      for (int item = warp; item < n_items; item += nw) {
        const int r0 = (item / n_colgroups) * kCtxRows;
        const int nr = min(kCtxRows, rows - r0);
        const int k0 = (item % n_colgroups) * kCtxCols + lane;
        const float* w_rows = scores + r0 * lds;
        float acc_c[kCtxRows][4];
#pragma unroll
        for (int rr = 0; rr < kCtxRows; ++rr)
#pragma unroll
          for (int j = 0; j < 4; ++j) acc_c[rr][j] = 0.0f;

        int i = 0;
        for (; i + 4 <= Le; i += 4) {
          float hv[4][4];
#pragma unroll
          for (int ii = 0; ii < 4; ++ii)
#pragma unroll
            for (int j = 0; j < 4; ++j) {
              const int k = k0 + 32 * j;
              hv[ii][j] = k < He ? h_b[int64_t(i + ii) * He + k] : 0.0f;
            }
#pragma unroll
          for (int rr = 0; rr < kCtxRows; ++rr) {
            if (rr >= nr) break;
            const float4 w4 = load4(w_rows + rr * lds + i);
#pragma unroll
            for (int j = 0; j < 4; ++j)
              acc_c[rr][j] += w4.x * hv[0][j] + w4.y * hv[1][j] + w4.z * hv[2][j] + w4.w * hv[3][j];
          }
        }
        for (; i < Le; ++i) {
          float hv[4];
#pragma unroll
          for (int j = 0; j < 4; ++j) {
            const int k = k0 + 32 * j;
            hv[j] = k < He ? h_b[int64_t(i) * He + k] : 0.0f;
          }
#pragma unroll
          for (int rr = 0; rr < kCtxRows; ++rr) {
            if (rr >= nr) break;
            const float w = w_rows[rr * lds + i];
#pragma unroll
            for (int j = 0; j < 4; ++j) acc_c[rr][j] += w * hv[j];
          }
        }
#pragma unroll
        for (int rr = 0; rr < kCtxRows; ++rr) {
          if (rr >= nr) break;
          float* out = p.context + (int64_t(b) * Td + t0 + r0 + rr) * He;
#pragma unroll
          for (int j = 0; j < 4; ++j)
            if (k0 + 32 * j < He) out[k0 + 32 * j] = acc_c[rr][j];
        }
      }
    }

    // ---- rows [t_end, t_stop): nothing to attend to, zeros.
    const int64_t zero_rows = t_stop - t_end;
    if (zero_rows > 0) {
      float* ctx = p.context + (int64_t(b) * Td + t_end) * He;
      for (int64_t k = threadIdx.x; k < zero_rows * He; k += blockDim.x) ctx[k] = 0.0f;
      if (p.weights) {
        float* w = p.weights + (int64_t(b) * Td + t_end) * Te;
        for (int64_t k = threadIdx.x; k < zero_rows * Te; k += blockDim.x) w[k] = 0.0f;
      }
    }
    __syncthreads();  // shared scores and staging are reused by the next work item
  }
}

// ---- the split path (step-wise decoding)

constexpr int kSplitThreads = 128;     // 4 warps; also the combine's block
constexpr int kSplitWarps = kSplitThreads / 32;
constexpr int kSplitMaxRows = 16;      // B·Td up to which the positions are split
constexpr int kSplitMaxChunks = 128;   // one per combine thread
constexpr int kSplitMaxChunk = 1024;   // positions per chunk: Te up to 131072
constexpr int kSplitMaxUnits = 1024;   // queries and v in shared memory: 20 KB

// Positions per chunk for these sizes, or 0 when the split path is not taken.
int split_chunk(int32_t batch, int32_t dec_steps, int32_t enc_steps, int32_t units) {
  if (dec_steps > kTT || int64_t(batch) * dec_steps > kSplitMaxRows || units > kSplitMaxUnits ||
      enc_steps < 1)
    return 0;
  const int64_t chunk = std::max<int64_t>(32, ceil_div(ceil_div(enc_steps, kSplitMaxChunks), 32) * 32);
  return chunk <= kSplitMaxChunk ? int(chunk) : 0;
}

// Scratch of the split path, in p.scores: [B, n_chunks, Td, 2] (m_c, s_c),
// then [B, n_chunks, Td, He] partial contexts.
struct SplitScratch {
  float* ms;
  float* ctx;
};

__host__ __device__ inline SplitScratch split_scratch(float* base, int batch, int n_chunks,
                                                      int dec_steps) {
  return {base, base + int64_t(batch) * n_chunks * dec_steps * 2};
}

// One block per (chunk, batch row) work item, looping when the grid is
// smaller than the work. Dynamic shared memory: queries + bias [4, A4],
// v [A4], energies [4, chunk].
template <bool kFast>
__global__ void __launch_bounds__(kSplitThreads)
    split_attention_kernel(const FusedAttentionParams p, int chunk, int n_chunks) {
  SEQATTN_DYNAMIC_SHARED(float4, smem4);
  float* const smem = reinterpret_cast<float*>(smem4);
  const int Te = p.enc_steps, Td = p.dec_steps, He = p.enc_dim, A = p.units;
  const int A4 = int(ceil_div(A, 4)) * 4;
  const int warp = int(threadIdx.x) / 32, lane = int(threadIdx.x) % 32;
  float* const qs = smem;           // [rows, A4]: q + bias
  float* const vs = qs + kTT * A4;  // [A4]
  float* const es = vs + A4;        // [rows, chunk]
  const SplitScratch sc = split_scratch(p.scores, p.batch, n_chunks, Td);
  const int64_t total = int64_t(p.batch) * n_chunks;

  for (int64_t work = blockIdx.x; work < total; work += gridDim.x) {
    const int b = int(work / n_chunks), c = int(work % n_chunks);
    const int Le = p.enc_lengths ? p.enc_lengths[b] : Te;
    const int Ld = p.dec_lengths ? p.dec_lengths[b] : Td;
    const int rows = Le > 0 ? min(Ld, Td) : 0;  // rows [0, rows) attend; the combine zeroes the rest
    const int i0 = c * chunk;
    const int n_pos = min(chunk, Le - i0);      // positions of this chunk that are not masked
    if (rows == 0 || n_pos <= 0) continue;      // uniform over the block: no barrier is skipped

    const float* q_b = p.queries + int64_t(b) * Td * p.queries_ld;
    for (int idx = int(threadIdx.x); idx < rows * A; idx += kSplitThreads) {
      const int t = idx / A, a = idx % A;
      qs[t * A4 + a] = q_b[int64_t(t) * p.queries_ld + a] + (p.bias ? p.bias[a] : 0.0f);
    }
    for (int a = int(threadIdx.x); a < A; a += kSplitThreads) vs[a] = p.v[a];
    __syncthreads();

    // ---- energies: a warp per position, lanes along A (coalesced key reads).
    const float* keys_b = p.keys + int64_t(b) * Te * p.keys_ld;
    for (int j = warp; j < n_pos; j += kSplitWarps) {
      const float* k_row = keys_b + int64_t(i0 + j) * p.keys_ld;
      float e[kTT] = {};
#pragma unroll 2  // 4 spills on sm_90 (PRECISE's tanhf inlined 16 times)
      for (int a = lane; a < A; a += 32) {
        const float k = k_row[a], v = vs[a];
#pragma unroll
        for (int t = 0; t < kTT; ++t)
          if (t < rows) e[t] = fmaf(v, tanh_mode<kFast>(k + qs[t * A4 + a]), e[t]);
      }
#pragma unroll
      for (int t = 0; t < kTT; ++t) {
        if (t >= rows) break;
        const float sum = warp_sum(e[t]);
        if (lane == 0) es[t * chunk + j] = sum;
      }
    }
    __syncthreads();

    // ---- the chunk's softmax terms: a warp per row (rows <= 4 = warps).
    if (warp < rows) {
      const int t = warp;
      float* row = es + t * chunk;
      float m = -INFINITY;
      for (int j = lane; j < n_pos; j += 32) m = fmaxf(m, row[j]);
      m = warp_max(m);
      float sum = 0.0f;
      for (int j = lane; j < n_pos; j += 32) {
        const float x = exp_mode<kFast>(row[j] - m);
        row[j] = x;
        sum += x;
      }
      sum = warp_sum(sum);
      if (p.weights) {  // unnormalised; the combine rescales them
        float* wrow = p.weights + (int64_t(b) * Td + t) * Te + i0;
        for (int j = lane; j < n_pos; j += 32) wrow[j] = row[j];
      }
      if (lane == 0) {
        float* ms = sc.ms + ((int64_t(b) * n_chunks + c) * Td + t) * 2;
        ms[0] = m;
        ms[1] = sum;
      }
    }
    __syncthreads();

    // ---- partial context Σ_j exp(e_j - m_c)·h[i0 + j, k], threads along He.
    const float* h_c = p.values + (int64_t(b) * Te + i0) * He;
    for (int k = int(threadIdx.x); k < He; k += kSplitThreads) {
      float acc[kTT] = {};
      for (int j = 0; j < n_pos; ++j) {
        const float h = h_c[int64_t(j) * He + k];
#pragma unroll
        for (int t = 0; t < kTT; ++t)
          if (t < rows) acc[t] = fmaf(es[t * chunk + j], h, acc[t]);
      }
#pragma unroll
      for (int t = 0; t < kTT; ++t)
        if (t < rows) sc.ctx[((int64_t(b) * n_chunks + c) * Td + t) * He + k] = acc[t];
    }
    __syncthreads();  // qs, vs and es are refilled by the next work item
  }
}

// One block per (128 columns of He, batch row) work item, looping when the
// grid is smaller: combines the chunks of split_attention_kernel. Every
// context and weight of the row is written here (zeros for rows that attend
// to nothing and for masked positions); the weights of a row are split over
// its column blocks.
__global__ void __launch_bounds__(kSplitThreads)
    split_combine_kernel(const FusedAttentionParams p, int chunk, int n_chunks) {
  SEQATTN_SHARED(float[kTT][kSplitMaxChunks], scale);  // exp(m_c - m) / S per row and chunk
  SEQATTN_SHARED(float[kSplitWarps], red);
  const int Te = p.enc_steps, Td = p.dec_steps, He = p.enc_dim;
  const int tid = int(threadIdx.x), warp = tid / 32, lane = tid % 32;
  const int n_groups = int(ceil_div(max(He, 1), kSplitThreads));
  const SplitScratch sc = split_scratch(p.scores, p.batch, n_chunks, Td);
  const int64_t total = int64_t(p.batch) * n_groups;

  for (int64_t work = blockIdx.x; work < total; work += gridDim.x) {
    const int b = int(work / n_groups), g = int(work % n_groups);
    const int Le = p.enc_lengths ? p.enc_lengths[b] : Te;
    const int Ld = p.dec_lengths ? p.dec_lengths[b] : Td;
    const int rows = Le > 0 ? min(Ld, Td) : 0;
    const int n_used = int(ceil_div(Le, chunk));  // chunks holding unmasked positions

    for (int t = 0; t < rows; ++t) {
      const float* ms = sc.ms + (int64_t(b) * n_chunks * Td + t) * 2;  // chunk c at + c·Td·2
      const float m_c = tid < n_used ? ms[int64_t(tid) * Td * 2] : -INFINITY;
      float m = warp_max(m_c);
      if (lane == 0) red[warp] = m;
      __syncthreads();
      m = red[0];
#pragma unroll
      for (int w = 1; w < kSplitWarps; ++w) m = fmaxf(m, red[w]);
      __syncthreads();  // red is reused for the sum
      // expf in both math modes: a handful per row, and FAST's bound stays
      // that of the one-pass kernel.
      const float f = tid < n_used ? expf(m_c - m) : 0.0f;
      float s = warp_sum(tid < n_used ? f * ms[int64_t(tid) * Td * 2 + 1] : 0.0f);
      if (lane == 0) red[warp] = s;
      __syncthreads();
      s = 0.0f;
#pragma unroll
      for (int w = 0; w < kSplitWarps; ++w) s += red[w];
      // s >= 1: the chunk holding the maximum contributes exp(0)·s_c >= 1.
      if (tid < n_used) scale[t][tid] = f / s;
      __syncthreads();
    }

    const int k = g * kSplitThreads + tid;
    if (k < He) {
      for (int t = 0; t < Td; ++t) {
        float acc = 0.0f;
        if (t < rows)
          for (int c = 0; c < n_used; ++c)
            acc = fmaf(sc.ctx[((int64_t(b) * n_chunks + c) * Td + t) * He + k], scale[t][c], acc);
        p.context[(int64_t(b) * Td + t) * He + k] = acc;
      }
    }
    if (p.weights) {
      const int stride = n_groups * kSplitThreads;
      for (int t = 0; t < Td; ++t) {
        float* wrow = p.weights + (int64_t(b) * Td + t) * Te;
        for (int i = g * kSplitThreads + tid; i < Te; i += stride)
          wrow[i] = (t < rows && i < Le) ? wrow[i] * scale[t][i / chunk] : 0.0f;
      }
    }
    __syncthreads();  // scale is rewritten by the next work item
  }
}

}  // namespace

int64_t attention_scores_ld(int32_t enc_steps) { return ceil_div(enc_steps, 4) * 4; }

int64_t attention_scratch_floats(int32_t batch, int32_t dec_steps, int32_t enc_steps,
                                 int32_t enc_dim, int32_t units) {
  if (const int chunk = split_chunk(batch, dec_steps, enc_steps, units)) {
    const int64_t n_chunks = ceil_div(enc_steps, chunk);
    return int64_t(batch) * n_chunks * dec_steps * (int64_t(enc_dim) + 2);
  }
  const int64_t block_rows = kTT * warps_for(dec_steps);
  const int64_t lds = attention_scores_ld(enc_steps);
  if (block_rows * lds * int64_t(sizeof(float)) <= kScoreSharedBytes) return 0;
  return int64_t(batch) * dec_steps * lds;
}

int attention_launches(int32_t batch, int32_t dec_steps, int32_t enc_steps, int32_t units) {
  return split_chunk(batch, dec_steps, enc_steps, units) ? 2 : 1;
}

void launch_fused_attention(const FusedAttentionParams& p, bool fast_math, cudaStream_t stream) {
  // Tile indices are int: a tile's last index must not pass INT_MAX.
  if (p.enc_steps > INT_MAX - kBI || p.dec_steps > INT_MAX - kMaxWarps * kTT)
    launch_fail(SEQATTN_ERROR_UNSUPPORTED,
                "fused attention: enc_steps and dec_steps must be below " +
                    std::to_string(INT_MAX - kBI) + " on a CUDA handle");
  if (p.queries_ld % 4 != 0 || reinterpret_cast<uintptr_t>(p.queries) % 16 != 0)
    launch_fail(SEQATTN_ERROR_INTERNAL, "fused attention: queries must have 16-byte aligned rows");
  const int64_t scratch =
      attention_scratch_floats(p.batch, p.dec_steps, p.enc_steps, p.enc_dim, p.units);
  if (const int chunk = split_chunk(p.batch, p.dec_steps, p.enc_steps, p.units)) {
    if (!p.scores) launch_fail(SEQATTN_ERROR_INTERNAL, "split attention: scratch missing");
    const int n_chunks = int(ceil_div(p.enc_steps, chunk));
    const int A4 = int(ceil_div(p.units, 4)) * 4;
    const size_t smem = sizeof(float) * (size_t(kTT + 1) * A4 + size_t(kTT) * chunk);
    const int64_t blocks = std::min<int64_t>(int64_t(p.batch) * n_chunks, INT_MAX);
    const auto split = fast_math ? split_attention_kernel<true> : split_attention_kernel<false>;
    SEQATTN_LAUNCH(split, unsigned(blocks), kSplitThreads, smem, stream)(p, chunk, n_chunks);
    check_launch("split attention kernel launch");
    const int64_t combine_blocks = std::min<int64_t>(
        int64_t(p.batch) * ceil_div(std::max(p.enc_dim, 1), kSplitThreads), INT_MAX);
    SEQATTN_LAUNCH(split_combine_kernel, unsigned(combine_blocks), kSplitThreads, 0,
                   stream)(p, chunk, n_chunks);
    check_launch("split attention combine kernel launch");
    return;
  }
  const int nw = warps_for(p.dec_steps);
  const int block_rows = kTT * nw;
  const int tiles_per_row = int(ceil_div(p.dec_steps, block_rows));
  const bool scores_shared = scratch == 0;
  if (!scores_shared && !p.scores)
    launch_fail(SEQATTN_ERROR_INTERNAL, "fused attention: energy scratch missing");
  const bool keys_vec =
      p.keys_ld % 4 == 0 && reinterpret_cast<uintptr_t>(p.keys) % 16 == 0;

  const size_t smem =
      sizeof(float) * (2 * size_t(stage_floats(block_rows)) +
                       (scores_shared ? size_t(block_rows) * attention_scores_ld(p.enc_steps) : 0));
  const auto kernel = fast_math ? fused_attention_kernel<true> : fused_attention_kernel<false>;
  if (smem > 48 * 1024)  // beyond the default limit a kernel must opt in
    launch_check(
        cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)),
        "cudaFuncSetAttribute (fused attention shared memory)");
  const int64_t blocks = std::min<int64_t>(int64_t(p.batch) * tiles_per_row, INT_MAX);
  SEQATTN_LAUNCH(kernel, unsigned(blocks), unsigned(32 * nw), smem, stream)(p, tiles_per_row,
                                                                           scores_shared, keys_vec);
  check_launch("fused attention kernel launch");
}

}  // namespace seqattn::cuda
