"""Writes the sequence-head model files of tests/fixtures/ (format
"seqattn.sequence_head", docs/model-format.md) with numpy alone:

  forecaster_head.safetensors
      tests/fixtures/forecaster.safetensors (seed 003's SimpleRNN -> attention
      pooling -> Dense(tanh), saved by make_fixtures.py from Keras) renamed into
      the model format; its Keras inputs and outputs (fixture.x, fixture.y,
      fixture.weights) are kept beside the model.
  sequence_head_gru.safetensors
      two GRU layers (reset_after, then reset_before) -> pooling -> Dense(relu)
      -> Dense(softmax), random weights; fixture.y and fixture.weights from the
      float64 forward pass below, which shares no code with the library (the GRU
      is tools/numpy_forward.py's, checked against Keras there).

    python3 tools/make_sequence_head.py          # writes both, checks the forecaster

Seeds are fixed: a rerun writes the same files.
"""

import json
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy_forward as nf  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")


def write_safetensors(path, tensors, metadata):
    """F32 tensors only, sorted by name; metadata values are strings."""
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name], dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(a.shape),
                        "data_offsets": [offset, offset + a.nbytes]}
        blobs.append(a.tobytes())
        offset += a.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # data 8-byte aligned, as the safetensors writer does
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def head_forward(t, config, x):
    """x [B, T, F] -> (y [B, N], pooling weights [B, T]), float64, straight from
    docs/model-format.md."""
    r = x.astype(np.float64)
    B, T, _ = r.shape
    for i, layer in enumerate(config["rnn"]):
        k, rk, b = (t[f"rnn.{i}.{n}"].astype(np.float64)
                    for n in ("kernel", "recurrent_kernel", "bias"))
        H = rk.shape[0]
        if layer["cell"] == "gru":
            r, _ = nf.gru(r, [T] * B, np.zeros((B, H)), k, rk, b,
                          reset_after=layer["gru_variant"] == "reset_after")
        else:
            h, out = np.zeros((B, H)), np.zeros((B, T, H))
            for step in range(T):
                h = np.tanh(r[:, step] @ k + h @ rk + b)
                out[:, step] = h
            r = out
    e = np.tanh(r @ t["pooling.w"].astype(np.float64) + t["pooling.b"])  # [B, T]
    a = nf.softmax(e)
    y = np.einsum("bt,bth->bh", a, r)
    acts = {"linear": lambda v: v, "tanh": np.tanh, "relu": lambda v: np.maximum(v, 0.0),
            "sigmoid": nf.sigmoid, "softmax": nf.softmax}
    for j, layer in enumerate(config["dense"]):
        y = acts[layer["activation"]](y @ t[f"dense.{j}.kernel"] + t[f"dense.{j}.bias"])
    return y, a


def metadata(config, fixture, extra=None):
    m = {"format": "seqattn.sequence_head", "format_version": "1",
         "config": json.dumps(config), "fixture": fixture, "numpy_version": np.__version__}
    m.update(extra or {})
    return m


def forecaster_head():
    t, m = nf.read_safetensors(os.path.join(FIXTURES, "forecaster.safetensors"))
    B, T, F = t["fixture.x"].shape
    H = t["rnn.recurrent_kernel"].shape[0]
    N = t["dense.kernel"].shape[1]
    config = {"input_features": F, "steps": T,
              "rnn": [{"cell": "simple_rnn", "units": H, "activation": m["rnn_activation"]}],
              "pooling": {},
              "dense": [{"units": N, "activation": m["dense_activation"]}],
              "name": "seed-003-forecaster",
              "description": "seed 003's Fibonacci forecaster architecture, random weights"}
    tensors = {
        "rnn.0.kernel": t["rnn.kernel"], "rnn.0.recurrent_kernel": t["rnn.recurrent_kernel"],
        "rnn.0.bias": t["rnn.bias"], "pooling.w": t["pooling.w"], "pooling.b": t["pooling.b"],
        "dense.0.kernel": t["dense.kernel"], "dense.0.bias": t["dense.bias"],
        "fixture.x": t["fixture.x"], "fixture.y": t["fixture.y"],
        "fixture.weights": t["fixture.weights"],
    }
    y, a = head_forward(tensors, config, t["fixture.x"])
    diff = max(nf.max_diff(y, t["fixture.y"]), nf.max_diff(a, t["fixture.weights"]))
    keep = {k: m[k] for k in ("keras_version", "keras_backend", "jax_version") if k in m}
    path = os.path.join(FIXTURES, "forecaster_head.safetensors")
    write_safetensors(path, tensors, metadata(
        config, "forecaster.safetensors in the model format; fixture.y and fixture.weights "
        "are Keras's outputs for fixture.x", keep))
    return path, diff


def gru_head(seed=10, batch=5, steps=9, features=3):
    rng = np.random.default_rng(seed)
    config = {"input_features": features, "steps": steps,
              "rnn": [{"cell": "gru", "units": 6, "gru_variant": "reset_after"},
                      {"cell": "gru", "units": 5, "gru_variant": "reset_before"}],
              "pooling": {},
              "dense": [{"units": 8, "activation": "relu"},
                        {"units": 4, "activation": "softmax"}],
              "name": "gru-classifier", "description": "random weights"}
    u = lambda *shape: rng.uniform(-0.8, 0.8, shape).astype(np.float32)  # noqa: E731
    tensors = {"rnn.0.kernel": u(features, 18), "rnn.0.recurrent_kernel": u(6, 18),
               "rnn.0.bias": u(2, 18),
               "rnn.1.kernel": u(6, 15), "rnn.1.recurrent_kernel": u(5, 15), "rnn.1.bias": u(15),
               "pooling.w": u(5), "pooling.b": u(steps),
               "dense.0.kernel": u(5, 8), "dense.0.bias": u(8),
               "dense.1.kernel": u(8, 4), "dense.1.bias": u(4)}
    x = rng.uniform(-1.0, 1.0, (batch, steps, features)).astype(np.float32)
    y, a = head_forward(tensors, config, x)
    tensors.update({"fixture.x": x, "fixture.y": y, "fixture.weights": a})
    path = os.path.join(FIXTURES, "sequence_head_gru.safetensors")
    write_safetensors(path, tensors, metadata(
        config, "GRU(reset_after) -> GRU(reset_before) -> pooling -> Dense(relu) -> "
        f"Dense(softmax), random weights (numpy seed {seed}); fixture.y and fixture.weights "
        "from tools/make_sequence_head.py's float64 forward pass"))
    return path


def main():
    path, diff = forecaster_head()
    print(f"{path}: max |numpy - keras| = {diff:.2e}")
    print(gru_head())
    if diff > 1e-5:
        sys.exit("the numpy forward pass disagrees with the Keras outputs of the forecaster")


if __name__ == "__main__":
    main()
