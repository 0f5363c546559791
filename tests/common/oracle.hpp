// The tests' own oracle: docs/math.md written out again in double precision,
// independently of src/cpu (which the tests do not include). It favours being
// an obvious transcription of the formulas over speed; inputs are tiny.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "seqattn/seqattn.h"

namespace oracle {

using Vec = std::vector<double>;

// Every function takes its tensors as float (what the library is given) or as
// double (the finite-difference tests perturb inputs in double precision);
// the optional pointers take R from the tensors (nullptr deduces nothing).
template <class T>
struct SameType {
  using type = T;
};
template <class T>
using Same = typename SameType<T>::type;

inline double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// Softmax of e[0, n), n >= 1.
inline Vec softmax(const Vec& e) {
  const double m = *std::max_element(e.begin(), e.end());
  Vec p(e.size());
  double sum = 0.0;
  for (size_t i = 0; i < e.size(); ++i) sum += p[i] = std::exp(e[i] - m);
  for (double& x : p) x /= sum;
  return p;
}

struct Attention {
  Vec context;  // [B, Td, He]
  Vec weights;  // [B, Td, Te]
};

template <class R>
inline Attention additive_attention(const seqattn_attention_dims& d,
                                    const std::vector<R>& h,    // [B, Te, He]
                                    const std::vector<R>& s,    // [B, Td, Hd]
                                    const int32_t* enc_lengths,     // [B] or nullptr
                                    const int32_t* dec_lengths,     // [B] or nullptr
                                    const std::vector<R>& W,    // [He, A]
                                    const std::vector<R>& U,    // [Hd, A]
                                    const Same<R>* bias,              // [A] or nullptr
                                    const std::vector<R>& v) {  // [A]
  const int B = d.batch, Te = d.enc_steps, Td = d.dec_steps;
  const int He = d.enc_dim, Hd = d.dec_dim, A = d.units;
  Attention out{Vec(size_t(B) * Td * He, 0.0), Vec(size_t(B) * Td * Te, 0.0)};
  for (int b = 0; b < B; ++b) {
    const int Le = enc_lengths ? enc_lengths[b] : Te;
    const int Ld = dec_lengths ? dec_lengths[b] : Td;
    for (int t = 0; t < Ld && Le > 0; ++t) {
      Vec e(size_t(Le), 0.0);
      for (int i = 0; i < Le; ++i) {
        for (int a = 0; a < A; ++a) {
          double key = bias ? bias[a] : 0.0, query = 0.0;
          for (int k = 0; k < He; ++k)
            key += double(h[(size_t(b) * Te + i) * He + k]) * W[size_t(k) * A + a];
          for (int k = 0; k < Hd; ++k)
            query += double(s[(size_t(b) * Td + t) * Hd + k]) * U[size_t(k) * A + a];
          e[size_t(i)] += v[size_t(a)] * std::tanh(key + query);
        }
      }
      const Vec w = softmax(e);
      for (int i = 0; i < Le; ++i) {
        out.weights[(size_t(b) * Td + t) * Te + i] = w[size_t(i)];
        for (int k = 0; k < He; ++k)
          out.context[(size_t(b) * Td + t) * He + k] +=
              w[size_t(i)] * h[(size_t(b) * Te + i) * He + k];
      }
    }
  }
  return out;
}

struct Pooling {
  Vec context;  // [B, F]
  Vec weights;  // [B, T]
};

template <class R>
inline Pooling attention_pooling(const seqattn_pooling_dims& d,
                                 const std::vector<R>& x,  // [B, T, F]
                                 const int32_t* lengths,       // [B] or nullptr
                                 const std::vector<R>& w,  // [F]
                                 const Same<R>* bias) {          // [T] or nullptr
  const int B = d.batch, T = d.steps, F = d.features;
  Pooling out{Vec(size_t(B) * F, 0.0), Vec(size_t(B) * T, 0.0)};
  for (int b = 0; b < B; ++b) {
    const int L = lengths ? lengths[b] : T;
    if (L == 0) continue;
    Vec e(static_cast<size_t>(L));
    for (int t = 0; t < L; ++t) {
      double acc = bias ? bias[t] : 0.0;
      for (int f = 0; f < F; ++f) acc += double(x[(size_t(b) * T + t) * F + f]) * w[size_t(f)];
      e[size_t(t)] = std::tanh(acc);
    }
    const Vec a = softmax(e);
    for (int t = 0; t < L; ++t) {
      out.weights[size_t(b) * T + t] = a[size_t(t)];
      for (int f = 0; f < F; ++f)
        out.context[size_t(b) * F + f] += a[size_t(t)] * x[(size_t(b) * T + t) * F + f];
    }
  }
  return out;
}

enum class Cell { kGruResetAfter, kGruResetBefore, kSimple };

struct Rnn {
  Vec outputs;  // [B, T, H]
  Vec h_last;   // [B, H]
};

// One cell step for one sequence: h [H] -> h' [H]. Gate blocks of the GRU
// kernels are the column ranges [0,H) z, [H,2H) r, [2H,3H) h.
template <class R>
inline Vec cell_step(Cell cell, int I, int H, const Same<R>* x, const Vec& h,
                     const std::vector<R>& kernel, const std::vector<R>& rec,
                     const Same<R>* bias) {
  const int G = cell == Cell::kSimple ? 1 : 3;
  auto xk = [&](int col) {  // (x·kernel)[col]
    double acc = 0.0;
    for (int k = 0; k < I; ++k) acc += double(x[k]) * kernel[size_t(k) * G * H + col];
    return acc;
  };
  auto hr = [&](const Vec& hv, int col) {  // (hv·recurrent_kernel)[col]
    double acc = 0.0;
    for (int k = 0; k < H; ++k) acc += hv[size_t(k)] * rec[size_t(k) * G * H + col];
    return acc;
  };
  auto bx = [&](int col) { return bias ? double(bias[col]) : 0.0; };
  auto bh = [&](int col) { return bias ? double(bias[G * H + col]) : 0.0; };  // reset-after row 1

  Vec next(static_cast<size_t>(H));
  if (cell == Cell::kSimple) {
    for (int j = 0; j < H; ++j) next[size_t(j)] = std::tanh(xk(j) + hr(h, j) + bx(j));
    return next;
  }
  Vec r(static_cast<size_t>(H)), z(static_cast<size_t>(H));
  if (cell == Cell::kGruResetAfter) {
    for (int j = 0; j < H; ++j) {
      z[size_t(j)] = sigmoid(xk(j) + bx(j) + hr(h, j) + bh(j));
      r[size_t(j)] = sigmoid(xk(H + j) + bx(H + j) + hr(h, H + j) + bh(H + j));
    }
    for (int j = 0; j < H; ++j) {
      const double c = std::tanh(xk(2 * H + j) + bx(2 * H + j) +
                                 r[size_t(j)] * (hr(h, 2 * H + j) + bh(2 * H + j)));
      next[size_t(j)] = z[size_t(j)] * h[size_t(j)] + (1.0 - z[size_t(j)]) * c;
    }
    return next;
  }
  Vec rh(static_cast<size_t>(H));
  for (int j = 0; j < H; ++j) {
    z[size_t(j)] = sigmoid(xk(j) + bx(j) + hr(h, j));
    r[size_t(j)] = sigmoid(xk(H + j) + bx(H + j) + hr(h, H + j));
    rh[size_t(j)] = r[size_t(j)] * h[size_t(j)];
  }
  for (int j = 0; j < H; ++j) {
    const double c = std::tanh(xk(2 * H + j) + bx(2 * H + j) + hr(rh, 2 * H + j));
    next[size_t(j)] = z[size_t(j)] * h[size_t(j)] + (1.0 - z[size_t(j)]) * c;
  }
  return next;
}

template <class R>
inline Rnn rnn(Cell cell, const seqattn_rnn_dims& d, bool reverse,
               const std::vector<R>& x,       // [B, T, I]
               const int32_t* lengths,            // [B] or nullptr
               const Same<R>* h0,                   // [B, H] or nullptr
               const std::vector<R>& kernel,  // [I, G*H]
               const std::vector<R>& rec,     // [H, G*H]
               const Same<R>* bias) {               // by cell, or nullptr
  const int B = d.batch, T = d.steps, I = d.input_dim, H = d.units;
  Rnn out{Vec(size_t(B) * T * H, 0.0), Vec(size_t(B) * H, 0.0)};
  for (int b = 0; b < B; ++b) {
    const int L = lengths ? lengths[b] : T;
    Vec h(size_t(H), 0.0);
    if (h0) h.assign(h0 + size_t(b) * H, h0 + size_t(b + 1) * H);
    for (int step = 0; step < L; ++step) {
      const int t = reverse ? L - 1 - step : step;
      h = cell_step(cell, I, H, &x[(size_t(b) * T + t) * I], h, kernel, rec, bias);
      std::copy(h.begin(), h.end(), out.outputs.begin() + (long(b) * T + t) * H);
    }
    std::copy(h.begin(), h.end(), out.h_last.begin() + long(b) * H);
  }
  return out;
}

template <class R>
inline Vec dense(int rows, int in, int out_dim, const std::vector<R>& x,
                 const std::vector<R>& W, const Same<R>* b, seqattn_activation act) {
  Vec y(size_t(rows) * out_dim);
  for (int r = 0; r < rows; ++r) {
    Vec row(static_cast<size_t>(out_dim));
    for (int j = 0; j < out_dim; ++j) {
      double acc = b ? b[j] : 0.0;
      for (int k = 0; k < in; ++k)
        acc += double(x[size_t(r) * in + k]) * W[size_t(k) * out_dim + j];
      switch (act) {
        case SEQATTN_ACTIVATION_TANH:
          acc = std::tanh(acc);
          break;
        case SEQATTN_ACTIVATION_SIGMOID:
          acc = sigmoid(acc);
          break;
        case SEQATTN_ACTIVATION_RELU:
          acc = acc > 0.0 ? acc : 0.0;
          break;
        default:
          break;
      }
      row[size_t(j)] = acc;
    }
    if (act == SEQATTN_ACTIVATION_SOFTMAX) row = softmax(row);
    std::copy(row.begin(), row.end(), y.begin() + long(r) * out_dim);
  }
  return y;
}

}  // namespace oracle
