// Additive attention on the fast CPU backend (the math: docs/math.md,
// "Additive (Bahdanau) attention").
//
//   keys = h·W + bias, q = s·U          OpenBLAS, row blocks over threads
//   e = v·tanh(keys + q)                kernels.cpp: (t, i) register tiles,
//                                       the A-reduction in vector registers
//   w = softmax_i e                     in place, in weights_out when given
//   context = w·h                       OpenBLAS, per block of decoder rows
//
// The backward (below, after the forward) recomputes keys and q with
// OpenBLAS, takes de from the saved weights (OpenBLAS for d_context·hᵀ, then
// the softmax's Jacobian row by row), and recomputes tanh inside a fused SIMD
// loop (kernels.cpp: attention_backward_tile) that accumulates d_keys, d_q
// and d_v tile by tile; the rest are products with OpenBLAS.
//
// Work items are (batch entry, block of 16 decoder rows): a batch entry's
// keys ([Te, A], in L2 for the shapes seen) are reused by every row of the
// block and by the entry's other blocks, and nothing of [B, Td, Te, A]
// exists. Masked positions (i >= enc_lengths[b]) and padded rows
// (t >= dec_lengths[b]) are never computed. When there are too few items
// to occupy the threads (decoding one sequence: B = 1, Td = 1) and the rows
// are long, the energies are split across encoder positions instead.
#include <algorithm>
#include <cstring>
#include <vector>

#include "fast/gemm.hpp"
#include "fast/kernels.hpp"
#include "fast/ops.hpp"
#include "fast/parallel.hpp"

namespace seqattn::fast {
namespace {

constexpr int64_t kRowBlock = 16;  // decoder rows per work item
constexpr int64_t kKeyBlock = 64;  // encoder positions per item when splitting a row
constexpr double kTanhCost = 8;    // a tanh costs about 8 multiply-adds (kWorkPerThread units)

using Item = AttentionItem;

struct Problem {
  const seqattn_attention_dims& d;
  const float* h;          // [B, Te, He]
  const float* keys;       // [B, Te, A]
  const float* q;          // [B, Td, A]
  const float* v;          // [A]
  const int32_t* enc_lengths;
  const int32_t* dec_lengths;
  float* context;          // [B, Td, He]
  float* weights;          // [B, Td, Te] or nullptr
  bool fast;
};

// Zeros for what is not computed: rows t >= Ld, every row of an entry with
// Le = 0, and each computed row's weights beyond Le (written by finish()).
void plan(const Problem& p, std::vector<Item>& items) {
  const int64_t B = p.d.batch, Td = p.d.dec_steps, Te = p.d.enc_steps, He = p.d.enc_dim;
  items.clear();
  for (int64_t b = 0; b < B; ++b) {
    const int64_t le = p.enc_lengths ? p.enc_lengths[b] : Te;
    const int64_t ld = le == 0 ? 0 : (p.dec_lengths ? p.dec_lengths[b] : Td);
    std::fill(p.context + (b * Td + ld) * He, p.context + (b + 1) * Td * He, 0.0f);
    if (p.weights) std::fill(p.weights + (b * Td + ld) * Te, p.weights + (b + 1) * Td * Te, 0.0f);
    for (int64_t t0 = 0; t0 < ld; t0 += kRowBlock)
      items.push_back({b, t0, std::min(ld, t0 + kRowBlock), le});
  }
}

// Energies of item `it` for encoder positions [i0, i1) into e (row stride Te).
void energies(const Problem& p, const Item& it, int64_t i0, int64_t i1, float* e) {
  const int64_t Td = p.d.dec_steps, Te = p.d.enc_steps, A = p.d.units;
  attention_energies(p.fast, p.q + (it.b * Td + it.t0) * A, size_t(A), size_t(it.t1 - it.t0),
                     p.keys + (it.b * Te + i0) * A, size_t(A), size_t(i1 - i0), p.v, size_t(A),
                     e + i0, size_t(Te));
}

// Softmax of each row's energies, the zeros beyond Le, and context = w·h.
void finish(const Problem& p, const Item& it, float* e) {
  const int64_t Td = p.d.dec_steps, Te = p.d.enc_steps, He = p.d.enc_dim;
  const int64_t rows = it.t1 - it.t0;
  for (int64_t r = 0; r < rows; ++r) {
    float* row = e + r * Te;
    softmax(row, size_t(it.le));
    std::fill(row + it.le, row + Te, 0.0f);
  }
  gemm(rows, He, it.le, e, Te, p.h + it.b * Te * He, He, p.context + (it.b * Td + it.t0) * He,
       He);
}

void attend(const Problem& p, Workspace& ws) {
  const int64_t Td = p.d.dec_steps, Te = p.d.enc_steps, A = p.d.units, He = p.d.enc_dim;
  std::vector<Item>& items = ws.items;
  plan(p, items);
  if (items.empty()) return;
  double work = 0;
  for (const Item& it : items)
    work += double(it.t1 - it.t0) * double(it.le) * (double(A) * kTanhCost + double(He));
  const int threads = threads_for(work, int64_t(items.size()) * Te);
  // Energies go straight into weights_out when there is one; otherwise into
  // scratch rows laid out like it.
  auto rows_of = [&](const Item& it, float* scratch) {
    return p.weights ? p.weights + (it.b * Td + it.t0) * Te : scratch;
  };

  if (int64_t(items.size()) >= 2 * threads) {
    // Enough items for every thread: each item runs whole on one thread, its
    // energies in that thread's scratch rows (any pool thread may take it).
    const size_t slots = size_t(ThreadPool::instance().threads());
    float* scratch = p.weights ? nullptr : ws.get(Workspace::kEnergies, slots * kRowBlock * Te);
    parallel_for(int64_t(items.size()), threads, [&](int64_t n) {
      const Item& it = items[size_t(n)];
      float* e = rows_of(it, scratch ? scratch + thread_index() * kRowBlock * Te : nullptr);
      energies(p, it, 0, it.le, e);
      finish(p, it, e);
    });
    return;
  }
  // Few long rows: split the energies over blocks of encoder positions, then
  // finish each item. Scratch (without weights_out) holds every item's rows.
  float* scratch =
      p.weights ? nullptr : ws.get(Workspace::kEnergies, size_t(items.size() * kRowBlock * Te));
  auto e_of = [&](size_t n) { return rows_of(items[n], scratch ? scratch + n * kRowBlock * Te : nullptr); };
  auto& parts = ws.parts;  // (item, first encoder position)
  parts.clear();
  for (size_t n = 0; n < items.size(); ++n)
    for (int64_t i0 = 0; i0 < items[n].le; i0 += kKeyBlock) parts.push_back({n, i0});
  parallel_for(int64_t(parts.size()), threads, [&](int64_t k) {
    const auto [n, i0] = parts[size_t(k)];
    energies(p, items[n], i0, std::min(items[n].le, i0 + kKeyBlock), e_of(n));
  });
  parallel_for(int64_t(items.size()), threads, [&](int64_t n) {
    finish(p, items[size_t(n)], e_of(size_t(n)));
  });
}

// out [rows, A] = x [rows, K]·M [K, A] (+ bias), over row blocks.
void project(int64_t rows, int64_t K, int64_t A, const float* x, const float* M,
             const float* bias, float* out) {
  gemm_rows(rows, A, K, x, K, M, A, out, A, [&](int64_t r0, int64_t r1) {
    if (bias)
      for (int64_t r = r0; r < r1; ++r) add_bias(out + r * A, bias, out + r * A, size_t(A));
  });
}

// ------------------------------------------------------------- backward

struct BackwardProblem {
  const seqattn_attention_dims& d;
  const float* h;          // [B, Te, He]
  const float* keys;       // [B, Te, A]
  const float* q;          // [B, Td, A]
  const float* v;          // [A]
  const int32_t* enc_lengths;
  const int32_t* dec_lengths;
  const float* weights;    // [B, Td, Te]
  const float* d_context;  // [B, Td, He]
  const float* d_weights;  // [B, Td, Te] or nullptr
  float* d_values;         // [B, Te, He]: written with the values' share
  float* d_keys;           // [B, Te, A]
  float* d_q;              // [B, Td, A]
  float* d_v;              // [A]
  bool fast;
  int64_t enc_length(int64_t b) const { return enc_lengths ? enc_lengths[b] : d.enc_steps; }
  // Rows that pass gradient: none in an entry with nothing to attend to.
  int64_t dec_length(int64_t b) const {
    return enc_length(b) == 0 ? 0 : dec_lengths ? dec_lengths[b] : d.dec_steps;
  }
};

constexpr int64_t kBackwardKeyBlock = 32;  // fewest encoder positions per split item

// Scratch: kGrad0 de [B, Td, Te]; kGrad1 the items' d_v partials [items, A];
// kGrad2 the d_q partials of entries split over several items.
void attend_backward(const BackwardProblem& p, Workspace& ws) {
  const int64_t B = p.d.batch, Td = p.d.dec_steps, Te = p.d.enc_steps, He = p.d.enc_dim,
                A = p.d.units;
  float* de = ws.get(Workspace::kGrad0, size_t(B * Td * Te));

  // Per batch entry: the values' share of d_encoder_out, w[b]ᵀ·d_context[b],
  // and de = w ⊙ (dw − Σ_i w·dw) with dw = d_context·hᵀ + d_weights. Only
  // rows t < Ld and positions i < Le enter a product, so whatever the
  // caller's d_context holds at padded rows is never read; the rest of de,
  // d_keys and d_q starts as zeros.
  double work = 0;
  for (int64_t b = 0; b < B; ++b) work += 2.0 * double(p.dec_length(b) * p.enc_length(b) * He);
  parallel_for(B, threads_for(work, B), [&](int64_t b) {
    const int64_t le = p.enc_length(b), ld = p.dec_length(b);
    const float* w = p.weights + b * Td * Te;
    const float* dctx = p.d_context + b * Td * He;
    float* dvals = p.d_values + b * Te * He;
    float* deb = de + b * Td * Te;
    // K = ld may be 0 (no rows): gemm_t writes zeros then.
    gemm_t(true, false, le, He, ld, w, Te, dctx, He, dvals, He);
    std::fill(dvals + le * He, dvals + Te * He, 0.0f);
    if (ld > 0) gemm_t(false, true, ld, le, He, dctx, He, p.h + b * Te * He, He, deb, Te);
    for (int64_t t = 0; t < ld; ++t) {
      float* row = deb + t * Te;
      const float* wr = w + t * Te;
      if (p.d_weights) {
        const float* dwr = p.d_weights + (b * Td + t) * Te;
        for (int64_t i = 0; i < le; ++i) row[i] += dwr[i];
      }
      const float s = dot(wr, row, size_t(le));
      for (int64_t i = 0; i < le; ++i) row[i] = wr[i] * (row[i] - s);
      std::fill(row + le, row + Te, 0.0f);
    }
    std::fill(deb + ld * Te, deb + Td * Te, 0.0f);
    std::fill(p.d_keys + b * Te * A, p.d_keys + (b + 1) * Te * A, 0.0f);
    std::fill(p.d_q + b * Td * A, p.d_q + (b + 1) * Td * A, 0.0f);
  });

  // The fused loop over (t, i, a). Items are blocks of encoder positions:
  // an item owns its d_keys rows outright, and its d_q rows too when its
  // entry is one item; an entry split into several items (too few entries
  // for the threads) sums its items' d_q partials afterwards, and d_v is
  // summed from one partial per item, both in item order — so no two
  // threads write the same memory, and the result does not depend on which
  // thread ran what.
  work = 0;
  for (int64_t b = 0; b < B; ++b)
    work += double(p.dec_length(b) * p.enc_length(b)) * double(A) * (kTanhCost + 6);
  const int threads = threads_for(work, B * ((Te + kBackwardKeyBlock - 1) / kBackwardKeyBlock));
  auto& items = ws.backward_items;
  items.clear();
  int64_t partials = 0;
  for (int64_t b = 0; b < B; ++b) {
    const int64_t le = p.enc_length(b), ld = p.dec_length(b);
    if (le == 0 || ld == 0) continue;
    // About four items per thread over the batch, none shorter than a key block.
    const int64_t want = threads > 1 ? (4 * threads + B - 1) / B : 1;
    const int64_t blocks =
        std::max<int64_t>(1, std::min(want, (le + kBackwardKeyBlock - 1) / kBackwardKeyBlock));
    for (int64_t k = 0; k < blocks; ++k)
      items.push_back({b, le * k / blocks, le * (k + 1) / blocks, blocks > 1 ? partials++ : -1});
  }
  std::fill(p.d_v, p.d_v + A, 0.0f);
  if (items.empty()) return;
  float* dv_parts = ws.get(Workspace::kGrad1, items.size() * size_t(A));
  float* dq_parts = partials ? ws.get(Workspace::kGrad2, size_t(partials * Td * A)) : nullptr;
  parallel_for(int64_t(items.size()), threads, [&](int64_t n) {
    const AttentionBackwardItem& it = items[size_t(n)];
    const int64_t ld = p.dec_length(it.b);
    float* dq = it.partial < 0 ? p.d_q + it.b * Td * A : dq_parts + it.partial * Td * A;
    if (it.partial >= 0) std::fill(dq, dq + ld * A, 0.0f);
    float* dv = dv_parts + n * A;
    std::fill(dv, dv + A, 0.0f);
    // Blocks of keys: a block's keys and d_keys (2·64·A floats) stay in
    // cache while all the entry's query rows pass over them.
    for (int64_t i0 = it.i0; i0 < it.i1; i0 += kKeyBlock) {
      const int64_t i1 = std::min(it.i1, i0 + kKeyBlock);
      attention_backward_tile(p.fast, p.q + it.b * Td * A, size_t(A), size_t(ld),
                              p.keys + (it.b * Te + i0) * A, size_t(A), size_t(i1 - i0), p.v,
                              size_t(A), de + it.b * Td * Te + i0, size_t(Te), dq, size_t(A),
                              p.d_keys + (it.b * Te + i0) * A, size_t(A), dv);
    }
  });
  for (size_t n = 0; n < items.size(); ++n) {
    const AttentionBackwardItem& it = items[n];
    axpy(1.0f, dv_parts + n * A, p.d_v, size_t(A));
    if (it.partial >= 0)
      axpy(1.0f, dq_parts + it.partial * Td * A, p.d_q + it.b * Td * A,
           size_t(p.dec_length(it.b) * A));
  }
}

// out[0, n) = Σ_r x[r, :] over `rows` rows, in row order.
void column_sums(const float* x, int64_t rows, int64_t n, float* out) {
  std::fill(out, out + n, 0.0f);
  for (int64_t r = 0; r < rows; ++r) axpy(1.0f, x + r * n, out, size_t(n));
}

// d_decoder_out = d_q·Uᵀ and d_U = sᵀ·d_q, for both forms.
void query_gradients(const seqattn_attention_dims& d, const float* s, const float* U,
                     const float* d_q, float* d_decoder_out, float* d_U) {
  const int64_t rows = int64_t(d.batch) * d.dec_steps, Hd = d.dec_dim, A = d.units;
  gemm_t_rows(false, true, rows, Hd, A, d_q, A, U, A, d_decoder_out, Hd);
  gemm_t_rows(true, false, Hd, A, rows, s, Hd, d_q, A, d_U, A);
}

}  // namespace

void additive_attention_backward(const AttentionBackwardArgs& a, bool fast_math, Workspace& ws) {
  const auto& d = a.dims;
  const int64_t enc_rows = int64_t(d.batch) * d.enc_steps, He = d.enc_dim, A = d.units;
  float* keys = ws.get(Workspace::kKeys, size_t(enc_rows * A));
  float* q = ws.get(Workspace::kQueries, size_t(d.batch) * d.dec_steps * d.units);
  float* d_keys = ws.get(Workspace::kGrad3, size_t(enc_rows * A));
  float* d_q = ws.get(Workspace::kGrad4, size_t(d.batch) * d.dec_steps * d.units);
  project(enc_rows, He, A, a.encoder_out, a.W, a.bias, keys);
  project(int64_t(d.batch) * d.dec_steps, d.dec_dim, A, a.decoder_out, a.U, nullptr, q);
  attend_backward({d, a.encoder_out, keys, q, a.v, a.enc_lengths, a.dec_lengths, a.weights,
                   a.d_context, a.d_weights, a.d_encoder_out, d_keys, d_q, a.d_v, fast_math},
                  ws);
  query_gradients(d, a.decoder_out, a.U, d_q, a.d_decoder_out, a.d_U);
  // The keys' share: d_encoder_out += d_keys·Wᵀ, d_W = hᵀ·d_keys, d_bias = Σ d_keys.
  gemm_t_rows(false, true, enc_rows, He, A, d_keys, A, a.W, A, a.d_encoder_out, He,
              /*accumulate=*/true);
  gemm_t_rows(true, false, He, A, enc_rows, a.encoder_out, He, d_keys, A, a.d_W, A);
  if (a.d_bias) column_sums(d_keys, enc_rows, A, a.d_bias);
}

void additive_attention_projected_backward(const ProjectedAttentionBackwardArgs& a,
                                           bool fast_math, Workspace& ws) {
  const auto& d = a.dims;
  float* q = ws.get(Workspace::kQueries, size_t(d.batch) * d.dec_steps * d.units);
  float* d_q = ws.get(Workspace::kGrad4, size_t(d.batch) * d.dec_steps * d.units);
  project(int64_t(d.batch) * d.dec_steps, d.dec_dim, d.units, a.decoder_out, a.U, nullptr, q);
  attend_backward({d, a.encoder_out, a.keys, q, a.v, a.enc_lengths, a.dec_lengths, a.weights,
                   a.d_context, a.d_weights, a.d_encoder_out, a.d_keys, d_q, a.d_v, fast_math},
                  ws);
  query_gradients(d, a.decoder_out, a.U, d_q, a.d_decoder_out, a.d_U);
}

void project_keys(const ProjectKeysArgs& a) {
  const auto& d = a.dims;
  project(int64_t(d.batch) * d.enc_steps, d.enc_dim, d.units, a.encoder_out, a.W, a.bias,
          a.keys_out);
}

void additive_attention(const AttentionArgs& a, bool fast_math, Workspace& ws) {
  const auto& d = a.dims;
  float* keys = ws.get(Workspace::kKeys, size_t(d.batch) * d.enc_steps * d.units);
  float* q = ws.get(Workspace::kQueries, size_t(d.batch) * d.dec_steps * d.units);
  project(int64_t(d.batch) * d.enc_steps, d.enc_dim, d.units, a.encoder_out, a.W, a.bias, keys);
  project(int64_t(d.batch) * d.dec_steps, d.dec_dim, d.units, a.decoder_out, a.U, nullptr, q);
  attend({d, a.encoder_out, keys, q, a.v, a.enc_lengths, a.dec_lengths, a.context_out,
          a.weights_out, fast_math},
         ws);
}

void additive_attention_projected(const ProjectedAttentionArgs& a, bool fast_math,
                                  Workspace& ws) {
  const auto& d = a.dims;
  float* q = ws.get(Workspace::kQueries, size_t(d.batch) * d.dec_steps * d.units);
  project(int64_t(d.batch) * d.dec_steps, d.dec_dim, d.units, a.decoder_out, a.U, nullptr, q);
  attend({d, a.encoder_out, a.keys, q, a.v, a.enc_lengths, a.dec_lengths, a.context_out,
          a.weights_out, fast_math},
         ws);
}

}  // namespace seqattn::fast
