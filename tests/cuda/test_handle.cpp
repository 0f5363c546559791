// CUDA handles: how a missing device or a bad ordinal is reported, device
// memory and copies, out-of-memory, the workspace being reused (a steady-state
// call allocates nothing), and the work of a handle made with the caller's
// stream really going to that stream.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "cuda_test_util.hpp"

namespace seqattn_cuda_test {
namespace {

// Runs with or without a GPU: each branch checks what the C API promises there.
TEST(CudaHandleCreate, NoDeviceOrBadOrdinalIsReported) {
  const int32_t count = seqattn_cuda_device_count();
  seqattn_handle_options o;
  seqattn_handle_options_init(&o);
  o.device = SEQATTN_DEVICE_CUDA;
  o.device_ordinal = count;  // one past the last device (0 when there is none)
  seqattn_handle h = nullptr;
  const seqattn_status s = seqattn_handle_create(&o, &h);
  const std::string message = seqattn_last_error();
  if (count == 0) {
    EXPECT_EQ(s, SEQATTN_ERROR_NO_DEVICE) << message;
    EXPECT_NE(message.find("CUDA"), std::string::npos) << message;
  } else {
    EXPECT_EQ(s, SEQATTN_ERROR_INVALID_ARGUMENT) << message;
    EXPECT_NE(message.find("device_ordinal = " + std::to_string(count)), std::string::npos)
        << message;
  }
  EXPECT_EQ(h, nullptr);
}

using CudaHandleTest = CudaTest;

TEST_F(CudaHandleTest, ReportsItsDeviceAndCopiesRoundTrip) {
  seqattn_device device = SEQATTN_DEVICE_CPU;
  SEQATTN_OK_OR_FAIL(seqattn_handle_get_device(gpu_, &device));
  EXPECT_EQ(device, SEQATTN_DEVICE_CUDA);

  const std::vector<float> host = random_vector(1001, 1);
  DeviceArray d(gpu_, host);
  EXPECT_EQ(d.download(), host);
  SEQATTN_OK_OR_FAIL(seqattn_synchronize(gpu_));
}

TEST_F(CudaHandleTest, OutOfMemoryIsReportedAndTheHandleStillWorks) {
  void* p = nullptr;
  const seqattn_status s = seqattn_malloc(gpu_, size_t(1) << 50, &p);  // 1 PiB
  EXPECT_EQ(s, SEQATTN_ERROR_OUT_OF_MEMORY) << status_text(s);
  EXPECT_NE(std::string(seqattn_last_error()).find("cudaErrorMemoryAllocation"),
            std::string::npos)
      << seqattn_last_error();
  const std::vector<float> host = random_vector(64, 2);
  DeviceArray d(gpu_, host);
  EXPECT_EQ(d.download(), host);
}

// After one round of calls has sized the workspace (and loaded the kernels
// cuBLAS picks for these shapes), repeating the round changes free device
// memory by nothing: no allocation per call. The round makes three calls with
// host lengths and the handle has four staging slots, so the measured rounds
// reach slots the warm-up never used: their pinned buffers and events must
// have been made with the handle, not on first use. The warm-up also runs
// the round twice, so every slot has been used once before measuring.
TEST_F(CudaHandleTest, SteadyStateCallsAllocateNothing) {
  const seqattn_attention_dims big{8, 200, 40, 64, 48, 96}, small{3, 17, 5, 64, 48, 96};
  const std::vector<int32_t> enc = mixed_lengths(8, 200, 3), dec = mixed_lengths(8, 40, 4);
  DeviceArray h(gpu_, random_vector(8 * 200 * 64, 5)), s(gpu_, random_vector(8 * 40 * 48, 6));
  DeviceArray W(gpu_, random_weights(64 * 96, 64, 7)), U(gpu_, random_weights(48 * 96, 48, 8));
  DeviceArray v(gpu_, random_vector(96, 9)), context(gpu_, size_t(8) * 40 * 64 * sizeof(float));
  const seqattn_rnn_dims rd{8, 20, 64, 32};
  DeviceArray kernel(gpu_, random_weights(64 * 96, 64, 10)),
      recurrent(gpu_, random_weights(32 * 96, 32, 11)), h_last(gpu_, size_t(8) * 32 * 4);
  const std::vector<int32_t> rnn_len = mixed_lengths(8, 20, 12);

  auto round = [&] {
    SEQATTN_OK_OR_FAIL(seqattn_additive_attention_forward(gpu_, &big, h.f(), s.f(), enc.data(),
                                                          dec.data(), W.f(), U.f(), nullptr,
                                                          v.f(), context.f(), nullptr));
    SEQATTN_OK_OR_FAIL(seqattn_additive_attention_forward(gpu_, &small, h.f(), s.f(), nullptr,
                                                          nullptr, W.f(), U.f(), nullptr, v.f(),
                                                          context.f(), nullptr));
    SEQATTN_OK_OR_FAIL(seqattn_gru_forward(gpu_, &rd, SEQATTN_GRU_RESET_BEFORE, 0, h.f(),
                                           rnn_len.data(), nullptr, kernel.f(), recurrent.f(),
                                           nullptr, nullptr, h_last.f()));
    SEQATTN_OK_OR_FAIL(seqattn_additive_attention_forward(gpu_, &small, h.f(), s.f(), enc.data(),
                                                          dec.data(), W.f(), U.f(), nullptr,
                                                          v.f(), context.f(), nullptr));
    SEQATTN_OK_OR_FAIL(seqattn_synchronize(gpu_));
  };
  round();
  round();
  size_t free_before = 0, free_after = 0, total = 0;
  ASSERT_EQ(cudaMemGetInfo(&free_before, &total), cudaSuccess);
  for (int i = 0; i < 4; ++i) round();
  ASSERT_EQ(cudaMemGetInfo(&free_after, &total), cudaSuccess);
  EXPECT_EQ(free_before, free_after) << "free device memory changed by "
                                     << (double(free_before) - double(free_after))
                                     << " bytes over four repeated rounds of calls";
}

// A handle made with the caller's stream enqueues there: captured into a CUDA
// graph, the call runs nothing until the graph is launched, and then gives
// the reference's result.
TEST_F(CudaHandleTest, WorkGoesToTheCallersStream) {
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
  seqattn_handle g = make(SEQATTN_DEVICE_CUDA, SEQATTN_MATH_PRECISE, stream);
  {
    const seqattn_attention_dims d{2, 9, 4, 6, 5, 8};
    const std::vector<float> h = random_vector(2 * 9 * 6, 1), s = random_vector(2 * 4 * 5, 2);
    const std::vector<float> W = random_weights(6 * 8, 6, 3), U = random_weights(5 * 8, 5, 4);
    const std::vector<float> v = random_vector(8, 5);
    std::vector<float> ref(2 * 4 * 6);
    SEQATTN_OK_OR_FAIL(seqattn_additive_attention_forward(ref_, &d, h.data(), s.data(), nullptr,
                                                          nullptr, W.data(), U.data(), nullptr,
                                                          v.data(), ref.data(), nullptr));
    DeviceArray dh(g, h), ds(g, s), dW(g, W), dU(g, U), dv(g, v), context(g, nan_vector(ref.size()));
    auto call = [&] {
      return seqattn_additive_attention_forward(g, &d, dh.f(), ds.f(), nullptr, nullptr, dW.f(),
                                                dU.f(), nullptr, dv.f(), context.f(), nullptr);
    };
    SEQATTN_OK_OR_FAIL(call());  // sizes the workspace: nothing may allocate while capturing
    SEQATTN_OK_OR_FAIL(seqattn_synchronize(g));
    context.upload(nan_vector(ref.size()));

    ASSERT_EQ(cudaStreamBeginCapture(stream, cudaStreamCaptureModeRelaxed), cudaSuccess);
    const seqattn_status captured = call();
    cudaGraph_t graph = nullptr;
    ASSERT_EQ(cudaStreamEndCapture(stream, &graph), cudaSuccess);
    ASSERT_EQ(captured, SEQATTN_OK) << status_text(captured);
    size_t nodes = 0;
    ASSERT_EQ(cudaGraphGetNodes(graph, nullptr, &nodes), cudaSuccess);
    EXPECT_GE(nodes, 3u) << "two projections and the fused kernel should have been captured";
    const std::vector<float> before = context.download();
    for (size_t i = 0; i < before.size(); ++i)
      ASSERT_TRUE(std::isnan(before[i])) << "context[" << i << "] written outside the stream";

    cudaGraphExec_t exec = nullptr;
    ASSERT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
    ASSERT_EQ(cudaGraphLaunch(exec, stream), cudaSuccess);
    ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
    EXPECT_TRUE(close(context.download(), ref, "context"));
    cudaGraphExecDestroy(exec);
    cudaGraphDestroy(graph);
  }
  seqattn_handle_destroy(g);
  cudaStreamDestroy(stream);
}

// A graph captured while the workspace is small must still replay correctly
// after a later call has grown the workspace: the old buffer the graph points
// at is kept until the handle is destroyed. To make a use of freed memory
// visible, the test then allocates device memory of the old workspace's size
// (where the allocator would put the freed buffer again), fills it with a
// pattern, and checks after the replay that the pattern is intact and the
// replay's result is the reference's.
TEST_F(CudaHandleTest, AGraphCapturedBeforeTheWorkspaceGrowsStillReplays) {
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
  seqattn_handle g = make(SEQATTN_DEVICE_CUDA, SEQATTN_MATH_PRECISE, stream);
  {
    const seqattn_attention_dims d{2, 9, 4, 6, 5, 8};
    const std::vector<float> h = random_vector(2 * 9 * 6, 21), s = random_vector(2 * 4 * 5, 22);
    const std::vector<float> W = random_weights(6 * 8, 6, 23), U = random_weights(5 * 8, 5, 24);
    const std::vector<float> v = random_vector(8, 25);
    std::vector<float> ref(2 * 4 * 6);
    SEQATTN_OK_OR_FAIL(seqattn_additive_attention_forward(ref_, &d, h.data(), s.data(), nullptr,
                                                          nullptr, W.data(), U.data(), nullptr,
                                                          v.data(), ref.data(), nullptr));
    DeviceArray dh(g, h), ds(g, s), dW(g, W), dU(g, U), dv(g, v), context(g, nan_vector(ref.size()));
    auto call = [&] {
      return seqattn_additive_attention_forward(g, &d, dh.f(), ds.f(), nullptr, nullptr, dW.f(),
                                                dU.f(), nullptr, dv.f(), context.f(), nullptr);
    };
    SEQATTN_OK_OR_FAIL(call());  // sizes the workspace (1 MiB) before capturing
    SEQATTN_OK_OR_FAIL(seqattn_synchronize(g));
    ASSERT_EQ(cudaStreamBeginCapture(stream, cudaStreamCaptureModeRelaxed), cudaSuccess);
    const seqattn_status captured = call();
    cudaGraph_t graph = nullptr;
    ASSERT_EQ(cudaStreamEndCapture(stream, &graph), cudaSuccess);
    ASSERT_EQ(captured, SEQATTN_OK) << status_text(captured);
    cudaGraphExec_t exec = nullptr;
    ASSERT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);

    {  // a call whose keys alone need 8·512·256 floats = 4 MiB: the workspace grows
      const seqattn_attention_dims big{8, 512, 1, 6, 5, 256};
      DeviceArray bh(g, random_vector(size_t(8) * 512 * 6, 26)),
          bs(g, random_vector(8 * 5, 27)), bW(g, random_weights(6 * 256, 6, 28)),
          bU(g, random_weights(5 * 256, 5, 29)), bv(g, random_vector(256, 30)),
          bctx(g, size_t(8) * 6 * sizeof(float));
      SEQATTN_OK_OR_FAIL(seqattn_additive_attention_forward(g, &big, bh.f(), bs.f(), nullptr,
                                                            nullptr, bW.f(), bU.f(), nullptr,
                                                            bv.f(), bctx.f(), nullptr));
      SEQATTN_OK_OR_FAIL(seqattn_synchronize(g));
    }
    // Where a freed 1 MiB workspace would most likely be handed out again.
    const size_t pattern_floats = (size_t(1) << 20) / sizeof(float);
    const std::vector<float> pattern = random_vector(pattern_floats, 31);
    DeviceArray bystander(g, pattern);

    context.upload(nan_vector(ref.size()));
    ASSERT_EQ(cudaGraphLaunch(exec, stream), cudaSuccess);
    ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
    EXPECT_TRUE(close(context.download(), ref, "context after the workspace grew"));
    EXPECT_EQ(bystander.download(), pattern)
        << "the replay wrote into memory allocated after the workspace grew";
    cudaGraphExecDestroy(exec);
    cudaGraphDestroy(graph);
  }
  seqattn_handle_destroy(g);
  cudaStreamDestroy(stream);
}

}  // namespace
}  // namespace seqattn_cuda_test
