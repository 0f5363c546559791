"""Bad input through the friendly layer: Python catches shape and type mistakes
(ValueError/TypeError naming the argument); what only the library can judge
comes back as SeqattnError with the status and the library's message."""

import pickle

import numpy as np
import pytest

import seqattn
from seqattn import SeqattnError, Status


def f32(*shape):
    return np.ones(shape, dtype=np.float32)


def attention_args(B=2, Te=5, Td=3, He=4, Hd=6, A=7):
    return dict(encoder_out=f32(B, Te, He), decoder_out=f32(B, Td, Hd), W=f32(He, A),
                U=f32(Hd, A), v=f32(A))


# ------------------------------------------------------- caught in Python


@pytest.mark.parametrize("name,value,words", [
    ("encoder_out", f32(5, 4), ["encoder_out", "3 dimension", "[B, Te, He]"]),
    ("decoder_out", f32(3, 3, 6), ["decoder_out", "B from encoder_out", "axis 0"]),
    ("W", f32(5, 7), ["W", "He from encoder_out", "axis 0 is 5, expected 4"]),
    ("U", f32(6, 8), ["U", "A from W"]),
    ("v", f32(7, 1), ["v", "1 dimension"]),
])
def test_attention_shape_mistakes(cpu, name, value, words):
    args = attention_args()
    args[name] = value
    with pytest.raises(ValueError) as info:
        seqattn.additive_attention(cpu, **args)
    for word in words:
        assert word in str(info.value)


def test_optional_tensor_shapes_are_checked(cpu):
    with pytest.raises(ValueError, match="^bias has shape"):
        seqattn.additive_attention(cpu, **attention_args(), bias=f32(6))
    with pytest.raises(ValueError, match="^h0 has shape"):
        seqattn.gru(cpu, f32(2, 3, 4), f32(4, 15), f32(5, 15), h0=f32(2, 4))
    with pytest.raises(ValueError, match="^b has shape"):
        seqattn.attention_pooling(cpu, f32(2, 3, 4), f32(4), b=f32(4))


def test_gru_shapes(cpu):
    x = f32(2, 3, 4)
    with pytest.raises(ValueError, match=r"^recurrent_kernel .*axis 1 is 14, expected 15 = 3H"):
        seqattn.gru(cpu, x, f32(4, 15), f32(5, 14))
    with pytest.raises(ValueError, match=r"^kernel .*expected 15 = 3H, H = 5 from recurrent_k"):
        seqattn.gru(cpu, x, f32(4, 12), f32(5, 15))
    with pytest.raises(ValueError, match=r"^kernel .*I from x"):
        seqattn.gru(cpu, x, f32(3, 15), f32(5, 15))
    # The bias layout follows the variant: [2, 3H] after, [3H] before.
    with pytest.raises(ValueError, match=r"^bias must have 2 dimension"):
        seqattn.gru(cpu, x, f32(4, 15), f32(5, 15), f32(15))
    with pytest.raises(ValueError, match=r"^bias must have 1 dimension"):
        seqattn.gru(cpu, x, f32(4, 15), f32(5, 15), f32(2, 15), variant="reset_before")
    with pytest.raises(ValueError, match="variant"):
        seqattn.gru(cpu, x, f32(4, 15), f32(5, 15), variant="cudnn")
    with pytest.raises(ValueError, match="nothing to return"):
        seqattn.gru(cpu, x, f32(4, 15), f32(5, 15), return_sequences=False, return_state=False)
    with pytest.raises(ValueError, match=r"^recurrent_kernel .*expected 5"):
        seqattn.simple_rnn(cpu, x, f32(4, 5), f32(5, 6))


def test_dense_shapes_and_activation(cpu):
    with pytest.raises(ValueError, match=r"^W .*In from x"):
        seqattn.dense(cpu, f32(3, 4), f32(5, 2))
    with pytest.raises(ValueError, match=r"^x must have at least 1"):
        seqattn.dense(cpu, np.float32(1), f32(1, 2))
    with pytest.raises(ValueError, match="activation"):
        seqattn.dense(cpu, f32(3, 4), f32(4, 2), activation="gelu")
    with pytest.raises(TypeError, match="activation"):
        seqattn.dense(cpu, f32(3, 4), f32(4, 2), activation=3)


def test_dtypes(cpu):
    args = attention_args()
    args["W"] = np.ones((4, 7), dtype=np.int64)
    with pytest.raises(TypeError, match="^W must hold floating-point values.*int64"):
        seqattn.additive_attention(cpu, **args)
    args = attention_args()
    args["v"] = np.ones(7, dtype=np.complex64)
    with pytest.raises(TypeError, match="^v must hold floating-point"):
        seqattn.additive_attention(cpu, **args)
    with pytest.raises(TypeError, match="^encoder_out is required"):
        seqattn.additive_attention(cpu, **{**attention_args(), "encoder_out": None})


def test_lengths_mistakes(cpu):
    args = attention_args()
    with pytest.raises(ValueError, match=r"^enc_lengths must have shape \[B\] = \(2,\)"):
        seqattn.additive_attention(cpu, **args, enc_lengths=[5, 5, 5])
    with pytest.raises(TypeError, match="^dec_lengths must hold integers"):
        seqattn.additive_attention(cpu, **args, dec_lengths=[1.5, 2.0])
    with pytest.raises(ValueError, match="^enc_lengths holds values that do not fit in int32"):
        seqattn.additive_attention(cpu, **args, enc_lengths=[2**32 + 1, 1])


def test_extents_past_int32_are_refused_before_any_copy(cpu):
    huge = np.broadcast_to(np.float32(0), (1, 2**31, 1))  # 8 GiB if it were copied
    with pytest.raises(ValueError, match="^x: extent 2147483648 on axis 1 exceeds .*int32"):
        seqattn.attention_pooling(cpu, huge, f32(1))


def test_out_buffers(cpu):
    args = attention_args()
    with pytest.raises(ValueError, match=r"^out has shape \(2, 3, 5\), expected \(2, 3, 4\)"):
        seqattn.additive_attention(cpu, **args, out=f32(2, 3, 5))
    with pytest.raises(TypeError, match="^weights_out must have dtype float32"):
        seqattn.additive_attention(cpu, **args, weights_out=np.ones((2, 3, 5)))
    with pytest.raises(ValueError, match="^out must be C-contiguous"):
        seqattn.additive_attention(cpu, **args, out=f32(2, 4, 3).transpose(0, 2, 1))
    frozen = f32(2, 3, 4)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="^out is read-only"):
        seqattn.additive_attention(cpu, **args, out=frozen)
    with pytest.raises(TypeError, match="^out must be a numpy.ndarray"):
        seqattn.additive_attention(cpu, **args, out=[[0.0]])
    with pytest.raises(ValueError, match="weights_out was given but return_weights=False"):
        seqattn.additive_attention(cpu, **args, weights_out=f32(2, 3, 5),
                                   return_weights=False)


def test_handle_arguments():
    with pytest.raises(ValueError, match="device"):
        seqattn.Handle("tpu")
    with pytest.raises(ValueError, match="math"):
        seqattn.Handle(math="sloppy")
    with pytest.raises(ValueError, match="stream applies to CUDA handles only"):
        seqattn.Handle("cpu", stream=1234)
    with pytest.raises(ValueError, match="disagrees"):
        seqattn.Handle("cuda:1", ordinal=2)
    with pytest.raises(TypeError, match="handle must be a seqattn.Handle"):
        seqattn.dense(None, f32(2, 2), f32(2, 2))


def test_closed_handle_is_refused():
    h = seqattn.Handle()
    h.close()
    h.close()  # twice is fine
    assert h.closed
    with pytest.raises(ValueError, match="closed"):
        seqattn.dense(h, f32(2, 2), f32(2, 2))
    with pytest.raises(ValueError, match="closed"):
        h.synchronize()


# ---------------------------------------------- refused by the library


def expect_library_error(words, fn, *args, **kwargs):
    with pytest.raises(SeqattnError) as info:
        fn(*args, **kwargs)
    err = info.value
    assert err.status == Status.SEQATTN_ERROR_INVALID_ARGUMENT
    for word in words:
        assert word in err.message, f"{word!r} not in {err.message!r}"
    assert str(err).startswith("SEQATTN_ERROR_INVALID_ARGUMENT: ")
    return err


def test_lengths_out_of_range(cpu):
    args = attention_args()
    expect_library_error(["enc_lengths[1] = 6", "enc_steps = 5"],
                         seqattn.additive_attention, cpu, **args, enc_lengths=[5, 6])
    expect_library_error(["dec_lengths[0] = -1", "negative"],
                         seqattn.additive_attention, cpu, **args, dec_lengths=[-1, 0])
    expect_library_error(["lengths[1] = 4", "steps = 3"],
                         seqattn.gru, cpu, f32(2, 3, 4), f32(4, 15), f32(5, 15), lengths=[3, 4])
    expect_library_error(["lengths[0] = 9"],
                         seqattn.attention_pooling, cpu, f32(1, 3, 4), f32(4), lengths=[9])


def test_empty_extents_reach_the_library(cpu):
    # Zero-size tensors pass Python's checks (they have the right rank) and the
    # library names the dim it refuses.
    expect_library_error(["dims->enc_steps = 0"], seqattn.additive_attention, cpu,
                         **attention_args(Te=0))
    expect_library_error(["dims->batch = 0"], seqattn.gru, cpu, f32(0, 3, 4), f32(4, 15),
                         f32(5, 15))
    expect_library_error(["rows = 0"], seqattn.dense, cpu, f32(0, 4), f32(4, 2))


def test_a_refused_call_writes_nothing(cpu):
    out = np.full((2, 3, 4), 7.0, np.float32)
    weights = np.full((2, 3, 5), 7.0, np.float32)
    with pytest.raises(SeqattnError):
        seqattn.additive_attention(cpu, **attention_args(), enc_lengths=[1, 99], out=out,
                                   weights_out=weights)
    assert (out == 7.0).all() and (weights == 7.0).all()


def test_cuda_handle_without_a_usable_gpu():
    if seqattn.cuda_device_count() > 0:
        pytest.skip("this machine has a usable GPU; test_cuda.py covers CUDA handles")
    with pytest.raises(SeqattnError) as info:
        seqattn.Handle("cuda")
    expected = (Status.SEQATTN_ERROR_NO_DEVICE if seqattn.build_features()["cuda"]
                else Status.SEQATTN_ERROR_UNSUPPORTED)
    assert info.value.status == expected
    assert info.value.message  # says why


def test_negative_ordinal_is_the_librarys_to_refuse():
    with pytest.raises(SeqattnError) as info:
        seqattn.Handle("cpu", ordinal=-1)
    assert info.value.status == Status.SEQATTN_ERROR_INVALID_ARGUMENT
    assert "device_ordinal = -1" in info.value.message


def test_seqattn_error_value():
    err = SeqattnError(4, "out of memory for keys")
    assert err.status is Status.SEQATTN_ERROR_OUT_OF_MEMORY
    assert str(err) == "SEQATTN_ERROR_OUT_OF_MEMORY: out of memory for keys"
    assert isinstance(err, RuntimeError)
    again = pickle.loads(pickle.dumps(err))
    assert (again.status, again.message) == (err.status, err.message)
    future = SeqattnError(42, "x")  # a status appended after this binding was written
    assert future.status == 42 and "42" in str(future)
