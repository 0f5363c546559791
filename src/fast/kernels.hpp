// The SIMD kernels of the fast CPU backend, compiled once per instruction set
// (SSE4, AVX2, AVX-512 on x86-64; NEON on aarch64; a portable fallback) from
// one source with Google Highway, and dispatched at run time to the best one
// the processor has (HWY_DYNAMIC_DISPATCH). The op drivers (attention.cpp,
// rnn.cpp, dense.cpp, pooling.cpp beside this file) call these on one thread
// each; threading and the BLAS products live in the drivers.
#pragma once

#include <cstddef>
#include <cstdint>

namespace seqattn::fast {

// Additive-attention energies of a block of query rows against a block of keys:
//   e[r * lde + c] = Σ_a v[a] · tanh(k[c * ldk + a] + q[r * ldq + a])
// for r < rows, c < cols; the A-reduction stays in vector registers. `fast`
// selects the tanh of SEQATTN_MATH_FAST (see tanh-inl.h for both bounds).
void attention_energies(bool fast, const float* q /* [rows, ldq] */, size_t ldq, size_t rows,
                        const float* k /* [cols, ldk] */, size_t ldk, size_t cols,
                        const float* v /* [A] */, size_t A, float* e /* [rows, lde] */,
                        size_t lde);

// The fused part of the attention's backward for the same blocks: with
// th = tanh(k[c] + q[r]) (the forward's tanh of mode `fast`) and s = de[r * lde + c],
//   dq[r * lddq + :] += s·v⊙(1 − th²),  dk[c * lddk + :] += s·v⊙(1 − th²),  dv[:] += s·th
// summed over r < rows, c < cols in a fixed order (the same inputs give the
// same bits). tanh is recomputed here, never stored.
void attention_backward_tile(bool fast, const float* q /* [rows, ldq] */, size_t ldq, size_t rows,
                             const float* k /* [cols, ldk] */, size_t ldk, size_t cols,
                             const float* v /* [A] */, size_t A,
                             const float* de /* [rows, lde] */, size_t lde,
                             float* dq /* [rows, lddq] */, size_t lddq,
                             float* dk /* [cols, lddk] */, size_t lddk, float* dv /* [A] */);

// In place over x[0, n): x = exp(x − max) / Σ exp(x − max); n >= 1.
void softmax(float* x, size_t n);

// GRU gates for one row (h' written to h_out, which may alias h):
//   reset_after:  gx = [xz xr xh] (input projection + bias[0]), gh = h·R + bias[1]
//     z = σ(xz + hz); r = σ(xr + hr); c = tanh(xh + r ⊙ hh); h' = z ⊙ h + (1 − z) ⊙ c
void gru_reset_after_gates(const float* gx /* [3H] */, const float* gh /* [3H] */,
                           const float* h /* [H] */, size_t H, float* h_out /* [H] */);
// reset_before, first half: r ⊙ h for the product with Rh, and z kept in gz:
//   z = σ(xz + hz) → gz [H];  rh = σ(xr + hr) ⊙ h → rh [H]
void gru_reset_before_gates(const float* gx /* [3H] */, const float* gh /* [2H] */,
                            const float* h /* [H] */, size_t H, float* gz /* [H] */,
                            float* rh /* [H] */);
// reset_before, second half: c = tanh(xh + ch); h' = z ⊙ h + (1 − z) ⊙ c
void gru_reset_before_update(const float* xh /* [H] */, const float* ch /* [H] */,
                             const float* gz /* [H] */, const float* h /* [H] */, size_t H,
                             float* h_out /* [H] */);
// SimpleRNN: h' = tanh(gx + gh)
void simple_rnn_update(const float* gx /* [H] */, const float* gh /* [H] */, size_t H,
                       float* h_out /* [H] */);

// Dense epilogue over one row: y = act(y + b), act by seqattn_activation value.
void bias_activation(float* y /* [n] */, const float* b /* [n] or nullptr */, size_t n,
                     int activation);

// C [M, N] (ldc) = A [M, K] (lda) · B [K, N] (ldb), plus C when `accumulate`:
// the products too small for a BLAS call to pay for itself (gemm.cpp
// decides), on the calling thread.
void small_gemm(size_t M, size_t N, size_t K, const float* A, size_t lda, const float* B,
                size_t ldb, float* C, size_t ldc, bool accumulate);

// A matrix B [K, N] (ldb) packed for packed_gemm: column panels of
// kPanel floats, each [K, kPanel] contiguous, the last one zero-padded.
inline constexpr size_t kPanel = 32;
inline size_t packed_size(size_t K, size_t N) { return (N + kPanel - 1) / kPanel * kPanel * K; }
void pack_panels(const float* B, size_t K, size_t N, size_t ldb, float* packed);

// C [M, N] (ldc) = A [M, K] (lda) · B, plus C when `accumulate`, with B from
// pack_panels: the recurrent product of an RNN step, where the same B is
// multiplied at every step. A panel (K·32 floats) stays in L1 while every
// row block of A passes over it, and no call packs anything.
void packed_gemm(size_t M, size_t N, size_t K, const float* A, size_t lda, const float* packed,
                 float* C, size_t ldc, bool accumulate);

// y[0, n) += alpha · x[0, n)
void axpy(float alpha, const float* x, float* y, size_t n);
// Σ x[i] · y[i]
float dot(const float* x, const float* y, size_t n);

// y[i] = x[i] + b[i] over n (b may be nullptr: a copy).
void add_bias(const float* x, const float* b, float* y, size_t n);

// For the calibration row of the benchmarks: `iterations` rounds of tanh on
// register-resident vectors; returns the number of tanh evaluated (the caller
// times it) and writes a checksum so the work is not optimised away.
int64_t tanh_throughput_loop(bool fast, int64_t iterations, float* checksum);

// The name of the instruction set the dispatcher picked ("AVX3", "AVX2", ...).
const char* simd_target_name();

}  // namespace seqattn::fast
