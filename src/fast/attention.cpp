// Additive attention on the fast CPU backend (the math: docs/math.md,
// "Additive (Bahdanau) attention").
//
//   keys = h·W + bias, q = s·U          OpenBLAS, row blocks over threads
//   e = v·tanh(keys + q)                kernels.cpp: (t, i) register tiles,
//                                       the A-reduction in vector registers
//   w = softmax_i e                     in place, in weights_out when given
//   context = w·h                       OpenBLAS, per block of decoder rows
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

}  // namespace

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
