// cuDNN GRU peer (see cudnn_gru.hpp). cuDNN keeps one weight matrix per gate,
// [H, in] row-major (the layout PyTorch copies its weight_ih chunks into),
// gates ordered r, z, h: linLayerID 0-2 act on the input, 3-5 on the state.
#include "cudnn_gru.hpp"

#include <cuda_runtime.h>
#include <cudnn.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace bench {
namespace {

void cuda_check(cudaError_t err, const char* what) {
  if (err != cudaSuccess)
    throw std::runtime_error(std::string("cuDNN GRU: ") + what + ": " + cudaGetErrorString(err));
}

void cudnn_check(cudnnStatus_t status, const char* what) {
  if (status != CUDNN_STATUS_SUCCESS)
    throw std::runtime_error(std::string("cuDNN GRU: ") + what + ": " +
                             cudnnGetErrorString(status));
}

// Keras column block (z = 0, r = 1, h = 2) of cuDNN gate g (r = 0, z = 1, h = 2).
constexpr int kKerasBlock[3] = {1, 0, 2};

}  // namespace

struct CudnnGru::Impl {
  seqattn_rnn_dims dims{};
  cudaStream_t stream = nullptr;
  cudnnHandle_t handle = nullptr;
  cudnnDropoutDescriptor_t dropout = nullptr;
  cudnnRNNDescriptor_t rnn = nullptr;
  cudnnRNNDataDescriptor_t x_desc = nullptr, y_desc = nullptr;
  cudnnTensorDescriptor_t h_desc = nullptr;
  void* dropout_states = nullptr;
  void* weight_space = nullptr;
  void* workspace = nullptr;
  int32_t* d_seq_lengths = nullptr;  // [B] device copy of the lengths cuDNN wants
  size_t weight_bytes = 0, workspace_bytes = 0;

  ~Impl() {
    cudaFree(workspace);
    cudaFree(weight_space);
    cudaFree(d_seq_lengths);
    cudaFree(dropout_states);
    if (h_desc) cudnnDestroyTensorDescriptor(h_desc);
    if (y_desc) cudnnDestroyRNNDataDescriptor(y_desc);
    if (x_desc) cudnnDestroyRNNDataDescriptor(x_desc);
    if (rnn) cudnnDestroyRNNDescriptor(rnn);
    if (dropout) cudnnDestroyDropoutDescriptor(dropout);
    if (handle) cudnnDestroy(handle);
  }
};

CudnnGru::CudnnGru(const seqattn_rnn_dims& dims, Math math, void* cuda_stream) : impl_(new Impl) {
  Impl& m = *impl_;
  try {
    m.dims = dims;
    m.stream = static_cast<cudaStream_t>(cuda_stream);
    const int B = dims.batch, T = dims.steps, I = dims.input_dim, H = dims.units;
    cudnn_check(cudnnCreate(&m.handle), "cudnnCreate");
    cudnn_check(cudnnSetStream(m.handle, m.stream), "cudnnSetStream");

    // A dropout descriptor with p = 0: cudnnSetRNNDescriptor_v8 takes one.
    size_t state_bytes = 0;
    cudnn_check(cudnnCreateDropoutDescriptor(&m.dropout), "cudnnCreateDropoutDescriptor");
    cudnn_check(cudnnDropoutGetStatesSize(m.handle, &state_bytes), "cudnnDropoutGetStatesSize");
    cuda_check(cudaMalloc(&m.dropout_states, state_bytes), "cudaMalloc dropout states");
    cudnn_check(cudnnSetDropoutDescriptor(m.dropout, m.handle, 0.0f, m.dropout_states, state_bytes,
                                          0),
                "cudnnSetDropoutDescriptor");

    cudnn_check(cudnnCreateRNNDescriptor(&m.rnn), "cudnnCreateRNNDescriptor");
    cudnn_check(cudnnSetRNNDescriptor_v8(
                    m.rnn, CUDNN_RNN_ALGO_STANDARD, CUDNN_GRU, CUDNN_RNN_DOUBLE_BIAS,
                    CUDNN_UNIDIRECTIONAL, CUDNN_LINEAR_INPUT, CUDNN_DATA_FLOAT, CUDNN_DATA_FLOAT,
                    math == Math::kFp32 ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH, I, H, H,
                    /*numLayers=*/1, m.dropout, CUDNN_RNN_PADDED_IO_ENABLED),
                "cudnnSetRNNDescriptor_v8");

    const std::vector<int> lengths(size_t(B), T);
    float padding = 0.0f;
    cudnn_check(cudnnCreateRNNDataDescriptor(&m.x_desc), "cudnnCreateRNNDataDescriptor");
    cudnn_check(cudnnSetRNNDataDescriptor(m.x_desc, CUDNN_DATA_FLOAT,
                                          CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED, T, B, I,
                                          lengths.data(), &padding),
                "cudnnSetRNNDataDescriptor x");
    cudnn_check(cudnnCreateRNNDataDescriptor(&m.y_desc), "cudnnCreateRNNDataDescriptor");
    cudnn_check(cudnnSetRNNDataDescriptor(m.y_desc, CUDNN_DATA_FLOAT,
                                          CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED, T, B, H,
                                          lengths.data(), &padding),
                "cudnnSetRNNDataDescriptor y");
    cuda_check(cudaMalloc(&m.d_seq_lengths, sizeof(int32_t) * size_t(B)), "cudaMalloc lengths");
    cuda_check(cudaMemcpy(m.d_seq_lengths, lengths.data(), sizeof(int32_t) * size_t(B),
                          cudaMemcpyHostToDevice),
               "cudaMemcpy lengths");

    const int h_dims[3] = {1, B, H};
    const int h_strides[3] = {B * H, H, 1};
    cudnn_check(cudnnCreateTensorDescriptor(&m.h_desc), "cudnnCreateTensorDescriptor");
    cudnn_check(cudnnSetTensorNdDescriptor(m.h_desc, CUDNN_DATA_FLOAT, 3, h_dims, h_strides),
                "cudnnSetTensorNdDescriptor h");

    cudnn_check(cudnnGetRNNWeightSpaceSize(m.handle, m.rnn, &m.weight_bytes),
                "cudnnGetRNNWeightSpaceSize");
    cuda_check(cudaMalloc(&m.weight_space, m.weight_bytes), "cudaMalloc weight space");
  } catch (...) {
    delete impl_;
    throw;
  }
}

CudnnGru::~CudnnGru() { delete impl_; }

void CudnnGru::set_weights(const float* kernel, const float* recurrent_kernel, const float* bias) {
  Impl& m = *impl_;
  const size_t H = size_t(m.dims.units), G = 3 * H;
  cudnnTensorDescriptor_t m_desc = nullptr, b_desc = nullptr;
  cudnn_check(cudnnCreateTensorDescriptor(&m_desc), "cudnnCreateTensorDescriptor");
  cudnn_check(cudnnCreateTensorDescriptor(&b_desc), "cudnnCreateTensorDescriptor");
  try {
    for (int id = 0; id < 6; ++id) {
      const bool recurrent = id >= 3;
      const size_t in = recurrent ? H : size_t(m.dims.input_dim);
      const float* src = recurrent ? recurrent_kernel : kernel;  // [in, 3H]
      const size_t block = size_t(kKerasBlock[id % 3]) * H;

      void* m_addr = nullptr;
      void* b_addr = nullptr;
      cudnn_check(cudnnGetRNNWeightParams(m.handle, m.rnn, 0, m.weight_bytes, m.weight_space, id,
                                          m_desc, &m_addr, b_desc, &b_addr),
                  "cudnnGetRNNWeightParams");
      cudnnDataType_t type{};
      int nb = 0, dims[3] = {0, 0, 0}, strides[3] = {0, 0, 0};
      cudnn_check(cudnnGetTensorNdDescriptor(m_desc, 3, &type, &nb, dims, strides),
                  "cudnnGetTensorNdDescriptor");
      if (nb != 3 || size_t(dims[1]) != H || size_t(dims[2]) != in)
        throw std::runtime_error("cuDNN GRU: unexpected weight matrix shape for linLayerID " +
                                 std::to_string(id));

      std::vector<float> mat(H * in);  // [H, in]: the transpose of the Keras block
      for (size_t j = 0; j < H; ++j)
        for (size_t k = 0; k < in; ++k) mat[j * in + k] = src[k * G + block + j];
      cuda_check(cudaMemcpy(m_addr, mat.data(), mat.size() * sizeof(float), cudaMemcpyHostToDevice),
                 "cudaMemcpy weights");

      std::vector<float> b(H, 0.0f);  // Keras bias row 0 is the input bias, row 1 the recurrent
      if (bias)
        for (size_t j = 0; j < H; ++j) b[j] = bias[(recurrent ? G : 0) + block + j];
      cuda_check(cudaMemcpy(b_addr, b.data(), b.size() * sizeof(float), cudaMemcpyHostToDevice),
                 "cudaMemcpy bias");
    }
  } catch (...) {
    cudnnDestroyTensorDescriptor(b_desc);
    cudnnDestroyTensorDescriptor(m_desc);
    throw;
  }
  cudnnDestroyTensorDescriptor(b_desc);
  cudnnDestroyTensorDescriptor(m_desc);
}

void CudnnGru::prepare() {
  Impl& m = *impl_;
  if (m.workspace) return;
  size_t reserve_bytes = 0;
  cudnn_check(cudnnGetRNNTempSpaceSizes(m.handle, m.rnn, CUDNN_FWD_MODE_INFERENCE, m.x_desc,
                                        &m.workspace_bytes, &reserve_bytes),
              "cudnnGetRNNTempSpaceSizes");
  cuda_check(cudaMalloc(&m.workspace, m.workspace_bytes > 0 ? m.workspace_bytes : 1),
             "cudaMalloc workspace");
}

void CudnnGru::forward(const float* d_x, float* d_y, float* d_h_last) {
  Impl& m = *impl_;
  prepare();
  cudnn_check(cudnnRNNForward(m.handle, m.rnn, CUDNN_FWD_MODE_INFERENCE, m.d_seq_lengths, m.x_desc,
                              d_x, m.y_desc, d_y, m.h_desc, /*hx=*/nullptr, d_h_last, m.h_desc,
                              /*cx=*/nullptr, /*cy=*/nullptr, m.weight_bytes, m.weight_space,
                              m.workspace_bytes, m.workspace, /*reserveSpaceSize=*/0,
                              /*reserveSpace=*/nullptr),
              "cudnnRNNForward");
}

}  // namespace bench
