"""Converters from other frameworks' files to seqattn model files.

    python -m seqattn.convert SRC [SRC2] OUT.safetensors [--options opts.json] [--set key=value]
    seqattn.convert.convert(sources, out, options=None) -> the written config

Sources (docs/model-format.md, "Converting", gives each weight mapping):

- Keras `.keras` (a zip of config.json + model.weights.h5) and `.h5` files, tf.keras
  2.x or Keras 3 on any backend, read with h5py and the standard library only:
  the attention_keras NMT model (its AttentionLayer W_a, U_a, V_a), Keras'
  AdditiveAttention, the project's own layer (tools/seq2seq_keras.py), and the
  attention-pooling forecaster (SimpleRNN/GRU -> pooling W [F,1], b [T,1] -> Dense).
- PyTorch state dicts (safetensors, or `.pt` when torch is installed) of the
  seq2seq tutorial's EncoderRNN + AttnDecoderRNN (BahdanauAttention Wa, Ua, Va):
  one file holding both (keys under any two prefixes) or the two state dicts
  as two sources.

Layers are recognised by class and weight shapes, never by the names a user
gave them; anything that cannot be mapped is refused with a ConversionError
naming the layer and why, and no output file is written.

A file holds no vocabulary or special tokens (a state dict not even the
lengths), so these come from `options` (a dict, or a JSON file / --set on the
command line): source_vocab, target_vocab, special_tokens (source_pad,
source_unk, target_pad, target_start, target_end), max_source_len,
max_target_len, source_padding, source_mask, tokenization, lowercase_source,
name, description.

Also here: torch_gru_to_keras, the GRU weight permutation used for PyTorch.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import struct
import sys
import tempfile
import zipfile

import numpy as np

FORMAT_SEQ2SEQ = "seqattn.seq2seq"
FORMAT_HEAD = "seqattn.sequence_head"


class ConversionError(ValueError):
    """The source cannot be converted; the message names the layer or key and why."""


def _host(name: str, t) -> np.ndarray:
    # torch tensors (CPU or CUDA, with or without grad) without importing torch.
    if hasattr(t, "detach"):
        t = t.detach().cpu().numpy()
    a = np.asarray(t)
    if a.dtype.kind != "f":
        raise TypeError(f"{name} must hold floating-point values, got dtype {a.dtype}")
    return a


def torch_gru_to_keras(weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """PyTorch nn.GRU weights of one layer and direction -> Keras RESET_AFTER weights.

    PyTorch stacks the gates as rows r, z, n: weight_ih [3H, I], weight_hh
    [3H, H], bias_ih and bias_hh [3H] (None when the GRU has bias=False). Its
    math is Keras' reset_after GRU (n = tanh(W_in x + b_in + r*(W_hn h + b_hn)),
    h' = (1-z)*n + z*h), so the conversion is a permutation of the gate blocks
    to z, r, h and a transpose:

        kernel [I, 3H], recurrent_kernel [H, 3H], bias [2, 3H] (row 0 input,
        row 1 recurrent; None when both PyTorch biases are None)

    all float32 and C-contiguous, ready for seqattn.gru(..., variant="reset_after").
    For a bidirectional GRU convert the *_reverse weights the same way and run
    them with reverse=True.
    """
    w_ih = _host("weight_ih", weight_ih)
    w_hh = _host("weight_hh", weight_hh)
    if w_hh.ndim != 2 or w_hh.shape[0] != 3 * w_hh.shape[1]:
        raise ValueError(f"weight_hh must have shape [3H, H], got {w_hh.shape}")
    H = w_hh.shape[1]
    if w_ih.ndim != 2 or w_ih.shape[0] != 3 * H:
        raise ValueError(f"weight_ih must have shape [3H, I] with H = {H} from weight_hh, "
                         f"got {w_ih.shape}")

    def z_r_h(rows: np.ndarray) -> np.ndarray:
        # PyTorch's blocks along axis 0 are r, z, n; Keras wants z, r, h.
        r, z, n = rows[:H], rows[H:2 * H], rows[2 * H:]
        return np.concatenate([z, r, n], axis=0)

    kernel = np.ascontiguousarray(z_r_h(w_ih).T, dtype=np.float32)
    recurrent_kernel = np.ascontiguousarray(z_r_h(w_hh).T, dtype=np.float32)
    if bias_ih is None and bias_hh is None:
        return kernel, recurrent_kernel, None
    rows = []
    for name, b in (("bias_ih", bias_ih), ("bias_hh", bias_hh)):
        if b is None:
            rows.append(np.zeros(3 * H))
            continue
        b = _host(name, b)
        if b.shape != (3 * H,):
            raise ValueError(f"{name} must have shape [3H] = ({3 * H},), got {b.shape}")
        rows.append(z_r_h(b))
    bias = np.ascontiguousarray(np.stack(rows), dtype=np.float32)
    return kernel, recurrent_kernel, bias


# --------------------------------------------------------------------------- writing

_ST_DTYPES = {np.dtype("<f4"): "F32", np.dtype("<i4"): "I32", np.dtype("<i8"): "I64",
              np.dtype("<f8"): "F64"}


def write_safetensors(path, tensors: dict, metadata: dict) -> None:
    """Writes a safetensors file atomically: a temporary file beside `path`, renamed
    over it only once complete, so a failure leaves no (partial) output."""
    header = {"__metadata__": {k: str(v) for k, v in metadata.items()}}
    blobs, offset = [], 0
    for name in sorted(tensors):
        a = np.asarray(tensors[name])
        if a.dtype.kind == "f" and a.dtype != np.float64:
            a = a.astype("<f4")
        a = np.ascontiguousarray(a.astype(a.dtype.newbyteorder("<")))
        if a.dtype not in _ST_DTYPES:
            raise ConversionError(f"tensor {name}: dtype {a.dtype} cannot be written")
        raw = a.tobytes()
        header[name] = {"dtype": _ST_DTYPES[a.dtype], "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    directory = os.path.dirname(os.path.abspath(os.fspath(path)))
    fd, tmp = tempfile.mkstemp(prefix=".seqattn-convert-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(struct.pack("<Q", len(text)))
            f.write(text)
            for raw in blobs:
                f.write(raw)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _read_safetensors(path) -> dict:
    """name -> float array of a safetensors file (a state dict saved with safetensors)."""
    dtypes = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I32": "<i4", "I64": "<i8"}
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ConversionError(f"{path}: not a safetensors file (shorter than 8 bytes)")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > len(raw) - 8:
        raise ConversionError(f"{path}: not a safetensors file (header length past the end)")
    try:
        header = json.loads(raw[8:8 + n])
    except ValueError as e:
        raise ConversionError(f"{path}: safetensors header is not JSON ({e})") from None
    data = raw[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info.get("dtype") not in dtypes:
            raise ConversionError(f"{path}: tensor {name} has dtype {info.get('dtype')}, "
                                  "which the converter does not read (use F32)")
        begin, end = info["data_offsets"]
        dt = np.dtype(dtypes[info["dtype"]])
        if not 0 <= begin <= end <= len(data) or \
                end - begin != int(np.prod(info["shape"], dtype=np.int64)) * dt.itemsize:
            raise ConversionError(f"{path}: tensor {name} data is truncated or inconsistent")
        out[name] = np.frombuffer(data[begin:end], dtype=dt).reshape(info["shape"])
    return out


# --------------------------------------------------------------------------- Keras reading

class _Layer:
    """One layer of a Keras model: class, config, weights (ordered), inbound refs."""

    def __init__(self, name, class_name, config, inbound):
        self.name, self.class_name, self.config = name, class_name, config
        self.inbound = inbound          # [(layer_name, tensor_index)] of its first call
        self.weights = []               # [(path, array)] in the layer's own order

    def describe(self):
        return f"layer '{self.name}' ({self.class_name})"

    def shapes(self):
        return [w.shape for _, w in self.weights]


def _history_refs(node):
    """(layer, tensor_index) refs of one inbound node, Keras 2 or Keras 3 style, in order."""
    refs = []

    def walk(x):
        if isinstance(x, dict):
            if "keras_history" in x.get("config", {}):
                h = x["config"]["keras_history"]
                refs.append((h[0], int(h[2])))
                return
            for k in sorted(x) if "args" not in x else ("args", "kwargs"):
                if k in x:
                    walk(x[k])
        elif isinstance(x, (list, tuple)):
            if len(x) >= 3 and isinstance(x[0], str) and isinstance(x[1], int) \
                    and isinstance(x[2], int):
                refs.append((x[0], x[2]))
                if len(x) > 3:
                    walk(x[3])
                return
            for y in x:
                walk(y)

    walk(node)
    return refs


def _model_layers(model_config):
    cfg = model_config
    if "config" in cfg and isinstance(cfg["config"], dict) and "layers" in cfg["config"]:
        kind, cfg = cfg.get("class_name"), cfg["config"]
    else:
        kind = None
    layers = []
    previous = None
    for entry in cfg.get("layers", []):
        c = entry.get("config", {})
        name = c.get("name") or entry.get("name")
        if entry.get("class_name") in ("Functional", "Sequential", "Model"):
            raise ConversionError(f"layer '{name}' ({entry.get('class_name')}): nested models "
                                  "are not supported; save the outer model flat")
        nodes = entry.get("inbound_nodes") or []
        inbound = _history_refs(nodes[0]) if nodes else []
        if kind == "Sequential" and previous is not None and not inbound:
            inbound = [(previous, 0)]
        layer = _Layer(name, entry.get("class_name"), c, inbound)
        layer.module = entry.get("module") or ""
        layers.append(layer)
        previous = name
    if kind == "Sequential":
        shape = None
        for layer in layers:
            shape = layer.config.get("batch_input_shape") or layer.config.get("batch_shape")
            if shape:
                break
        if layers and layers[0].class_name != "InputLayer":
            first = _Layer("__input__", "InputLayer", {"batch_shape": shape}, [])
            layers[0].inbound = [("__input__", 0)]
            layers.insert(0, first)
    return layers


def _sorted_keys(group):
    def key(k):
        return (0, int(k), "") if k.isdigit() else (1, 0, k)
    return sorted(group.keys(), key=key)


def _datasets(group, prefix=""):
    import h5py
    out = []
    for k in _sorted_keys(group):
        item = group[k]
        path = f"{prefix}/{k}" if prefix else k
        if isinstance(item, h5py.Dataset):
            out.append((path, np.asarray(item[()])))
        else:
            out.extend(_datasets(item, path))
    return out


def _open_h5(source, path_for_errors):
    try:
        import h5py
    except ImportError:
        raise ConversionError("reading Keras files needs h5py (pip install h5py)") from None
    try:
        return h5py.File(source, "r")
    except (OSError, ValueError) as e:
        raise ConversionError(f"{path_for_errors}: cannot be read as HDF5 "
                              f"(truncated or not an .h5 file): {e}") from None


def _snake_case(name):
    # Keras' naming.to_snake_case: the .keras weights file names each layer's group
    # after its class (uniquified in model order: gru, gru_1, ...), not its name.
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name)
    return name.lower()


def _keras_weights_v3(f, layers, path):
    """Keras 3 (and tf.keras 2.13+) .keras weights: a group per layer holding vars/0.."""
    roots = [f[k] for k in ("layers", "_layer_checkpoint_dependencies") if k in f]
    used = {}
    for layer in layers:
        if layer.name == "__input__":
            continue
        key = _snake_case(layer.class_name)
        if key in used:
            used[key] += 1
            key = f"{key}_{used[key]}"
        else:
            used[key] = 0
        group = None
        for root in roots:
            if key in root:
                group = root[key]
                break
        if group is None:
            continue
        try:
            layer.weights = _datasets(group)
        except (OSError, KeyError) as e:
            raise ConversionError(f"{path}: weights of {layer.describe()} cannot be read "
                                  f"(truncated file?): {e}") from None


def _keras_weights_legacy(f, layers, path):
    g = f["model_weights"] if "model_weights" in f else f
    for layer in layers:
        if layer.name not in g:
            continue
        lg = g[layer.name]
        names = [n.decode() if isinstance(n, bytes) else str(n)
                 for n in lg.attrs.get("weight_names", [])]
        try:
            layer.weights = [(n, np.asarray(lg[n][()])) for n in names]
        except (OSError, KeyError) as e:
            raise ConversionError(f"{path}: weights of {layer.describe()} cannot be read "
                                  f"(truncated file?): {e}") from None


def _read_keras(path):
    """(layers, keras_version, origin) of a .keras or .h5 file."""
    path = os.fspath(path)
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
                if "config.json" not in names or "model.weights.h5" not in names:
                    raise ConversionError(f"{path}: a .keras archive must hold config.json and "
                                          "model.weights.h5")
                model_config = json.loads(z.read("config.json"))
                meta = json.loads(z.read("metadata.json")) if "metadata.json" in names else {}
                weights = z.read("model.weights.h5")
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
            raise ConversionError(f"{path}: cannot be read as a .keras archive: {e}") from None
        import io
        layers = _model_layers(model_config)
        with _open_h5(io.BytesIO(weights), path) as f:
            _keras_weights_v3(f, layers, path)
        return layers, meta.get("keras_version", "?"), "keras"
    with _open_h5(path, path) as f:
        raw = f.attrs.get("model_config")
        if raw is None:
            raise ConversionError(f"{path}: an .h5 without 'model_config' holds weights only "
                                  "(save the whole model: model.save('m.h5'))")
        if isinstance(raw, bytes):
            raw = raw.decode()
        layers = _model_layers(json.loads(raw))
        version = f.attrs.get("keras_version", "?")
        if isinstance(version, bytes):
            version = version.decode()
        _keras_weights_legacy(f, layers, path)
    return layers, str(version), "h5"


# --------------------------------------------------------------------------- Keras mapping

_PASS_THROUGH = {"Dropout", "Masking", "Activation", "SpatialDropout1D", "GaussianNoise",
                 "GaussianDropout", "AlphaDropout", "Identity"}


class _Graph:
    def __init__(self, layers):
        self.layers = layers
        self.by_name = {l.name: l for l in layers}

    def producer(self, ref):
        """The layer that computes tensor `ref`, skipping layers that do not change values."""
        name, index = ref
        layer = self.by_name.get(name)
        if layer is None:
            raise ConversionError(f"the model refers to an unknown layer '{name}'")
        if layer.class_name in _PASS_THROUGH and layer.inbound:
            if layer.class_name == "Activation" and layer.config.get("activation") != "linear":
                return layer, index
            return self.producer(layer.inbound[0])
        return layer, index

    def inputs(self, layer):
        return [self.producer(r) for r in layer.inbound]


def _is_gru(layer):
    return layer.class_name in ("GRU", "CuDNNGRU")


def _rnn_inner(layer):
    """(inner class, inner config) of a Bidirectional layer."""
    inner = layer.config.get("layer", {})
    return inner.get("class_name"), inner.get("config", {})


def _gru_tensors(layer, weights, reset_after, what):
    if len(weights) != 3:
        raise ConversionError(f"{what}: a GRU with {len(weights)} weights; seqattn needs "
                              "kernel, recurrent_kernel and bias (use_bias=True)")
    k, rk, b = (w for _, w in weights)
    H = rk.shape[0] if rk.ndim == 2 else -1
    if rk.ndim != 2 or rk.shape[1] != 3 * H or k.ndim != 2 or k.shape[1] != 3 * H:
        raise ConversionError(f"{what}: GRU weight shapes {k.shape}, {rk.shape} are not "
                              "kernel [I, 3H], recurrent_kernel [H, 3H]")
    want_b = (2, 3 * H) if reset_after else (3 * H,)
    if b.shape != want_b:
        raise ConversionError(f"{what}: GRU bias has shape {b.shape}, expected {want_b} "
                              f"({'reset_after' if reset_after else 'reset_before'})")
    return k, rk, b, H


def _check_gru_config(c, what):
    for key, want in (("activation", "tanh"), ("recurrent_activation", "sigmoid")):
        if c.get(key, want) != want:
            raise ConversionError(f"{what}: {key}='{c.get(key)}'; seqattn's GRU needs '{want}'")
    if c.get("go_backwards"):
        raise ConversionError(f"{what}: go_backwards=True is not supported")
    if not c.get("use_bias", True):
        raise ConversionError(f"{what}: use_bias=False is not supported")


def _embedding_of(graph, layer, what):
    """(table or None, vocab, mask_zero, fixed_len) of the input feeding an RNN."""
    refs = graph.inputs(layer)
    if not refs:
        raise ConversionError(f"{what}: cannot find its input")
    src, _ = refs[0]
    if src.class_name == "Embedding":
        if len(src.weights) != 1:
            raise ConversionError(f"{src.describe()}: expected one weight (embeddings)")
        table = src.weights[0][1]
        fixed = None
        feed, _ = graph.producer(src.inbound[0]) if src.inbound else (None, 0)
        if feed is not None and feed.class_name == "InputLayer":
            fixed = _input_len(feed)
        return table, table.shape[0], bool(src.config.get("mask_zero")), fixed
    if src.class_name == "OneHot" or (src.class_name.endswith("OneHot") and not src.weights):
        feed, _ = graph.producer(src.inbound[0])
        return None, int(src.config["depth"]), bool(src.config.get("mask_zero")), \
            _input_len(feed) if feed.class_name == "InputLayer" else None
    if src.class_name == "InputLayer":
        shape = src.config.get("batch_shape") or src.config.get("batch_input_shape")
        if not shape or len(shape) != 3 or not shape[2]:
            raise ConversionError(f"{what}: fed directly by input '{src.name}' of shape {shape}; "
                                  "expected one-hot rows [batch, steps, vocab] or an Embedding")
        return None, int(shape[2]), False, shape[1]
    raise ConversionError(f"{what}: fed by {src.describe()}; seqattn needs an Embedding, "
                          "one-hot input, or the tools' OneHot layer")


def _input_len(input_layer):
    shape = input_layer.config.get("batch_shape") or input_layer.config.get("batch_input_shape")
    return shape[1] if shape and len(shape) > 1 else None


def _attention_kind(layer):
    """'attention_keras' | 'project' | 'keras_additive' | None, by class and weight shapes."""
    s = layer.shapes()
    if layer.class_name == "AdditiveAttention" and len(s) <= 1 and all(len(x) == 1 for x in s):
        return "keras_additive"
    if len(s) == 3 and len(s[0]) == 2 and len(s[1]) == 2 and s[2] == (s[0][1], 1) \
            and s[0][0] == s[0][1] and s[1][1] == s[0][1]:
        return "attention_keras"        # W_a [He, He], U_a [Hd, He], V_a [He, 1]
    if layer.class_name == "AdditiveAttention" and len(s) in (3, 4) and len(s[0]) == 2 \
            and len(s[1]) == 2 and s[0][1] == s[1][1] \
            and s[-1] == (s[0][1],) and (len(s) == 3 or s[2] == (s[0][1],)):
        return "project"                # W [He, A], U [Hd, A], (bias [A]), v [A]
    return None


def _pooling_kind(layer):
    s = layer.shapes()
    return len(s) == 2 and len(s[0]) == 2 and s[0][1] == 1 and len(s[1]) == 2 and s[1][1] == 1


_DEAD = {"InputLayer", "Concatenate", "TimeDistributed", "Dense", "Embedding", "GRU",
         "Bidirectional", "SimpleRNN", "OneHot", "Flatten", "Reshape"} | _PASS_THROUGH


# Keras classes whose weights could pass for an attention layer's; refused by class.
_UNSUPPORTED = {"LSTM", "CuDNNLSTM", "RNN", "ConvLSTM1D", "ConvLSTM2D", "Attention",
                "MultiHeadAttention", "Conv1D", "Conv2D", "LayerNormalization",
                "BatchNormalization", "EinsumDense", "GroupQueryAttention", "PReLU",
                "LocallyConnected1D", "Dot", "Add", "Multiply"}


def _builtin_unsupported(layer):
    # Keras 3 names the module of a built-in class ("keras.layers"); custom classes
    # have their own module or registered_name.
    if layer.class_name in _UNSUPPORTED:
        return True
    return layer.module.startswith("keras.") and layer.class_name != "AdditiveAttention"


def _keras_to_model(layers, options, origin):
    graph = _Graph(layers)
    # Built-in classes are what their class says; the attention layer (custom in all
    # but Keras' AdditiveAttention) is recognised by its weight shapes.
    custom = [l for l in layers if l.class_name not in _DEAD and not _builtin_unsupported(l)]
    attn = [l for l in custom if _attention_kind(l)]
    pools = [l for l in custom if _pooling_kind(l) and l not in attn]
    for l in layers:
        if l in attn or l in pools or l.class_name in _DEAD:
            continue
        if l.class_name == "NotEqual" and not l.weights and l.inbound and \
                graph.producer(l.inbound[0])[0].class_name == "InputLayer":
            continue    # Keras 3 saves the mask of Embedding(mask_zero) as this op
        why = (f"weights of shapes {l.shapes()} match no supported attention layer"
               if l.weights else "this layer class is not supported")
        raise ConversionError(f"{l.describe()}: {why}")
    if len(attn) == 1 and not pools:
        return _keras_seq2seq(graph, attn[0], options)
    if len(pools) == 1 and not attn:
        return _keras_head(graph, pools[0], options)
    if not attn and not pools:
        raise ConversionError("no attention layer found: expected attention_keras' AttentionLayer, "
                              "keras AdditiveAttention, tools/seq2seq_keras.py's layer, or the "
                              "attention-pooling layer (W [F, 1], b [T, 1])")
    raise ConversionError(f"more than one attention layer ({[l.name for l in attn + pools]}); "
                          "seqattn models have one")


def _dense_through(graph, layer):
    """The Dense of `layer` (itself or wrapped by TimeDistributed): (config, kernel, bias)."""
    if layer.class_name == "TimeDistributed":
        inner = layer.config.get("layer", {})
        if inner.get("class_name") != "Dense":
            raise ConversionError(f"{layer.describe()} wraps {inner.get('class_name')}, not Dense")
        c = inner.get("config", {})
    elif layer.class_name == "Dense":
        c = layer.config
    else:
        raise ConversionError(f"{layer.describe()}: expected Dense or TimeDistributed(Dense)")
    if len(layer.weights) != 2:
        raise ConversionError(f"{layer.describe()}: a Dense without bias is not supported")
    return c, layer.weights[0][1], layer.weights[1][1]


def _encoder(graph, ref_layer, what):
    """Encoder tensors from the RNN layer producing the encoder outputs."""
    t = {}
    if ref_layer.class_name == "Bidirectional":
        cls, c = _rnn_inner(ref_layer)
        if cls not in ("GRU",):
            raise ConversionError(f"{ref_layer.describe()} wraps {cls}; only GRU is supported")
        if ref_layer.config.get("merge_mode", "concat") != "concat":
            raise ConversionError(f"{ref_layer.describe()}: merge_mode="
                                  f"'{ref_layer.config.get('merge_mode')}'; seqattn concatenates")
        _check_gru_config(c, ref_layer.describe())
        reset_after = bool(c.get("reset_after", True))
        fwd = [w for w in ref_layer.weights if "forward" in w[0]]
        bwd = [w for w in ref_layer.weights if "backward" in w[0]]
        if len(fwd) != 3 or len(bwd) != 3:
            half = len(ref_layer.weights) // 2
            fwd, bwd = ref_layer.weights[:half], ref_layer.weights[half:]
        for prefix, ws in (("encoder.forward", fwd), ("encoder.backward", bwd)):
            k, rk, b, H = _gru_tensors(ref_layer, ws, reset_after, ref_layer.describe())
            t.update({f"{prefix}.kernel": k, f"{prefix}.recurrent_kernel": rk,
                      f"{prefix}.bias": b})
        return t, H, True, reset_after
    if _is_gru(ref_layer):
        c = ref_layer.config
        _check_gru_config(c, ref_layer.describe())
        reset_after = bool(c.get("reset_after", True))
        k, rk, b, H = _gru_tensors(ref_layer, ref_layer.weights, reset_after,
                                   ref_layer.describe())
        t.update({"encoder.forward.kernel": k, "encoder.forward.recurrent_kernel": rk,
                  "encoder.forward.bias": b})
        return t, H, False, reset_after
    raise ConversionError(f"{what}: the encoder outputs come from {ref_layer.describe()}; "
                          "seqattn's encoder is a GRU or Bidirectional(GRU)")


def _keras_seq2seq(graph, attn, options):
    kind = _attention_kind(attn)
    ins = graph.inputs(attn)
    if len(ins) < 2:
        raise ConversionError(f"{attn.describe()}: expected two inputs (encoder and decoder "
                              f"outputs), found {len(ins)}")
    if kind == "keras_additive":
        if attn.config.get("use_causal_mask") or attn.config.get("causal"):
            raise ConversionError(f"{attn.describe()}: a causal mask has no seqattn equivalent")
        (dec_l, _), (enc_l, _) = ins[0], ins[1]       # [query, value(, key)]
        if len(ins) > 2 and ins[2][0] is not enc_l:
            raise ConversionError(f"{attn.describe()}: a key different from the value is not "
                                  "supported (seqattn attends over the encoder outputs)")
    else:
        (enc_l, _), (dec_l, _) = ins[0], ins[1]       # [encoder_out, decoder_out]
    what = attn.describe()
    t, H, bidir, reset_after = _encoder(graph, enc_l, what)
    He = 2 * H if bidir else H
    src_table, Vs, src_mask, src_fixed = _embedding_of(graph, enc_l, enc_l.describe())
    enc_in = t["encoder.forward.kernel"].shape[0]
    if src_table is not None:
        t["encoder.embedding"] = src_table
        if src_table.shape[1] != enc_in:
            raise ConversionError(f"{enc_l.describe()}: kernel rows {enc_in} != embedding "
                                  f"width {src_table.shape[1]}")
    elif Vs != enc_in:
        raise ConversionError(f"{enc_l.describe()}: kernel rows {enc_in} != one-hot depth {Vs}")

    if not _is_gru(dec_l):
        raise ConversionError(f"{what}: the decoder outputs come from {dec_l.describe()}; "
                              "seqattn's decoder is a GRU")
    _check_gru_config(dec_l.config, dec_l.describe())
    if bool(dec_l.config.get("reset_after", True)) != reset_after:
        raise ConversionError(f"{dec_l.describe()}: reset_after differs from the encoder's; "
                              "seqattn uses one gru_variant")
    k, rk, b, Hd = _gru_tensors(dec_l, dec_l.weights, reset_after, dec_l.describe())
    if Hd != He:
        raise ConversionError(f"{dec_l.describe()}: units {Hd} != encoder output size {He}")
    if len(dec_l.inbound) < 2:
        raise ConversionError(f"{dec_l.describe()}: no initial_state; seqattn's decoder starts "
                              "from the encoder's final state")
    t.update({"decoder.kernel": k, "decoder.recurrent_kernel": rk, "decoder.bias": b})
    tgt_table, Vt_in, _, _ = _embedding_of(graph, dec_l, dec_l.describe())
    if tgt_table is not None:
        t["decoder.embedding"] = tgt_table
        if tgt_table.shape[1] != k.shape[0]:
            raise ConversionError(f"{dec_l.describe()}: kernel rows {k.shape[0]} != embedding "
                                  f"width {tgt_table.shape[1]}")
    elif Vt_in != k.shape[0]:
        raise ConversionError(f"{dec_l.describe()}: kernel rows {k.shape[0]} != one-hot depth "
                              f"{Vt_in}")

    w = [a for _, a in attn.weights]
    if kind == "attention_keras":
        t["attention.W"], t["attention.U"], t["attention.v"] = w[0], w[1], w[2][:, 0]
        A, bias = He, False
    elif kind == "project":
        t["attention.W"], t["attention.U"], t["attention.v"] = w[0], w[1], w[-1]
        bias = len(w) == 4
        if bias:
            t["attention.bias"] = w[2]
        A = w[0].shape[1]
    else:
        eye = np.eye(He, dtype=np.float32)
        t["attention.W"], t["attention.U"] = eye, eye
        t["attention.v"] = w[0] if w else np.ones(He, np.float32)
        A, bias = He, False
        if t["attention.v"].shape != (He,):
            raise ConversionError(f"{what}: scale of shape {t['attention.v'].shape}, expected "
                                  f"({He},)")
    if t["attention.W"].shape != (He, A) or t["attention.U"].shape != (Hd, A):
        raise ConversionError(f"{what}: attention weights {attn.shapes()} do not fit encoder "
                              f"outputs {He} and decoder outputs {Hd}")

    # The output: a Dense (softmax) over Concatenate([decoder outputs, context]).
    consumers = [l for l in graph.layers
                 if l.class_name == "Concatenate" and any(graph.producer(r)[0] is attn
                                                          for r in l.inbound)]
    if len(consumers) != 1:
        raise ConversionError(f"{what}: expected its context to go into one Concatenate with "
                              "the decoder outputs")
    cat = consumers[0]
    parts = graph.inputs(cat)
    order = [("s" if p is dec_l else "c" if p is attn and i == 0 else "?") for p, i in parts]
    if sorted(order) != ["c", "s"]:
        raise ConversionError(f"{cat.describe()}: expected [decoder outputs, context], got "
                              f"inputs {[p.name for p, _ in parts]}")
    dense = [l for l in graph.layers if l.inbound and graph.producer(l.inbound[0])[0] is cat]
    if len(dense) != 1:
        raise ConversionError(f"{cat.describe()}: expected one Dense(softmax) after it")
    dc, ok, ob = _dense_through(graph, dense[0])
    if dc.get("activation") != "softmax":
        raise ConversionError(f"{dense[0].describe()}: activation '{dc.get('activation')}'; "
                              "the output layer must be softmax")
    if ok.shape[0] != Hd + He:
        raise ConversionError(f"{dense[0].describe()}: kernel rows {ok.shape[0]} != {Hd + He}")
    if order == ["c", "s"]:
        ok = np.concatenate([ok[He:], ok[:He]], axis=0)
    Vt = ok.shape[1]
    if tgt_table is None and Vt_in != Vt or tgt_table is not None and tgt_table.shape[0] != Vt:
        raise ConversionError(f"{dense[0].describe()}: {Vt} outputs, but the decoder input "
                              "vocabulary has "
                              f"{Vt_in if tgt_table is None else tgt_table.shape[0]}")
    t["output.kernel"], t["output.bias"] = ok, ob

    config = {
        "encoder": {"units": H, "bidirectional": bidir,
                    "embedding_dim": 0 if src_table is None else int(src_table.shape[1])},
        "decoder": {"kind": "attention_keras", "units": Hd,
                    "embedding_dim": 0 if tgt_table is None else int(tgt_table.shape[1])},
        "attention": {"units": A, "bias": bias},
        "gru_variant": "reset_after" if reset_after else "reset_before",
        "source_mask": src_mask,
    }
    if src_fixed:
        config["max_source_len"] = int(src_fixed)
    return FORMAT_SEQ2SEQ, _finish_seq2seq(config, t, Vs, Vt, options)


def _keras_head(graph, pool, options):
    ins = graph.inputs(pool)
    if len(ins) != 1:
        raise ConversionError(f"{pool.describe()}: expected one input (the RNN outputs)")
    w, b = (a for _, a in pool.weights)
    T = b.shape[0]
    rnn, t = [], {}
    layer = ins[0][0]
    chain = []
    while layer.class_name != "InputLayer":
        if layer.class_name not in ("SimpleRNN", "GRU"):
            raise ConversionError(f"{layer.describe()}: before the pooling layer only SimpleRNN "
                                  "and GRU layers are supported")
        if not layer.config.get("return_sequences"):
            raise ConversionError(f"{layer.describe()}: needs return_sequences=True")
        chain.append(layer)
        layer = graph.inputs(layer)[0][0]
    inp = layer
    shape = inp.config.get("batch_shape") or inp.config.get("batch_input_shape")
    if not chain:
        raise ConversionError(f"{pool.describe()}: no RNN layer before it")
    chain.reverse()
    for i, l in enumerate(chain):
        c = l.config
        if c.get("go_backwards") or not c.get("use_bias", True):
            raise ConversionError(f"{l.describe()}: go_backwards / use_bias=False not supported")
        if l.class_name == "SimpleRNN":
            act = c.get("activation", "tanh")
            if act not in ("tanh", "relu", "linear", "sigmoid"):
                raise ConversionError(f"{l.describe()}: activation '{act}' is not supported")
            if len(l.weights) != 3:
                raise ConversionError(f"{l.describe()}: expected kernel, recurrent_kernel, bias")
            k, rk, bb = (a for _, a in l.weights)
            rnn.append({"cell": "simple_rnn", "units": int(rk.shape[0]), "activation": act})
        else:
            _check_gru_config(c, l.describe())
            ra = bool(c.get("reset_after", True))
            k, rk, bb, _ = _gru_tensors(l, l.weights, ra, l.describe())
            rnn.append({"cell": "gru", "units": int(rk.shape[0]),
                        "gru_variant": "reset_after" if ra else "reset_before"})
        t[f"rnn.{i}.kernel"], t[f"rnn.{i}.recurrent_kernel"], t[f"rnn.{i}.bias"] = k, rk, bb
    F = t["rnn.0.kernel"].shape[0]
    Hl = rnn[-1]["units"]
    if w.shape != (Hl, 1):
        raise ConversionError(f"{pool.describe()}: W has shape {w.shape}, expected ({Hl}, 1)")
    if shape and shape[1] and shape[1] != T:
        raise ConversionError(f"{pool.describe()}: b has {T} steps, the input {shape[1]}")
    t["pooling.w"], t["pooling.b"] = w[:, 0], b[:, 0]
    dense, layer, j = [], pool, 0
    while True:
        nxt = [l for l in graph.layers if l.inbound and graph.producer(l.inbound[0])[0] is layer]
        if not nxt:
            break
        if len(nxt) > 1:
            raise ConversionError(f"{layer.describe()}: its output goes to several layers")
        layer = nxt[0]
        if layer.class_name != "Dense":
            raise ConversionError(f"{layer.describe()}: after the pooling layer only Dense "
                                  "layers are supported")
        c, k, bb = _dense_through(graph, layer)
        act = c.get("activation", "linear")
        if act not in ("linear", "tanh", "relu", "sigmoid", "softmax"):
            raise ConversionError(f"{layer.describe()}: activation '{act}' is not supported")
        dense.append({"units": int(k.shape[1]), "activation": act})
        t[f"dense.{j}.kernel"], t[f"dense.{j}.bias"] = k, bb
        j += 1
    if not dense:
        raise ConversionError(f"{pool.describe()}: no Dense layer after it")
    config = {"input_features": int(F), "steps": int(T), "rnn": rnn, "pooling": {},
              "dense": dense}
    for key in ("name", "description"):
        if key in options:
            config[key] = options[key]
    return FORMAT_HEAD, (config, t)


# --------------------------------------------------------------------------- options

_SEQ2SEQ_OPTION_KEYS = {"source_vocab", "target_vocab", "special_tokens", "max_source_len",
                        "max_target_len", "source_padding", "source_mask", "tokenization",
                        "lowercase_source", "name", "description"}


def _finish_seq2seq(config, tensors, Vs, Vt, options):
    unknown = set(options) - _SEQ2SEQ_OPTION_KEYS
    if unknown:
        raise ConversionError(f"options: unknown keys {sorted(unknown)}; known: "
                              f"{sorted(_SEQ2SEQ_OPTION_KEYS)}")
    for side, V in (("source", Vs), ("target", Vt)):
        vocab = options.get(f"{side}_vocab")
        if vocab is None:
            config[f"{side}_vocab_size"] = int(V)
        else:
            if not isinstance(vocab, list) or len(vocab) != V:
                got = len(vocab) if isinstance(vocab, list) else type(vocab).__name__
                raise ConversionError(f"options.{side}_vocab: {got} "
                                      f"entries, but the model's {side} vocabulary has {V}")
            config[f"{side}_vocab"] = vocab
    sp = {"source_pad": 0, "source_unk": 1 if Vs > 1 else 0, "target_pad": 0}
    sp.update(config.pop("_special_defaults", {}))
    sp.update(options.get("special_tokens", {}))
    for key in ("target_start", "target_end"):
        if key not in sp:
            raise ConversionError(f"options.special_tokens.{key} is required (the file does not "
                                  "say which token starts or ends a target)")
    for key, v in sp.items():
        V = Vs if key.startswith("source") else Vt
        if not isinstance(v, int) or not 0 <= v < V:
            raise ConversionError(f"options.special_tokens.{key} = {v!r} is not a token id "
                                  f"below {V}")
    config["special_tokens"] = sp
    for key in ("source_padding", "tokenization", "lowercase_source", "name", "description",
                "max_source_len", "max_target_len", "source_mask"):
        if key in options:
            config[key] = options[key]
    config.setdefault("source_padding", "post")
    config.setdefault("tokenization", "words")
    config.setdefault("lowercase_source", False)
    if config["source_padding"] not in ("pre", "post"):
        raise ConversionError("options.source_padding must be 'pre' or 'post'")
    for key in ("max_source_len", "max_target_len"):
        if key not in config:
            raise ConversionError(f"options.{key} is required (the source file does not fix it)")
        if not isinstance(config[key], int) or config[key] < 1:
            raise ConversionError(f"options.{key} must be a positive integer")
    return config, tensors


# --------------------------------------------------------------------------- PyTorch

def _read_torch(paths):
    """Merged state dict of one or more files, keys prefixed '<i>.' when several."""
    merged = {}
    for i, p in enumerate(paths):
        p = os.fspath(p)
        if p.endswith(".safetensors"):
            sd = _read_safetensors(p)
        else:
            try:
                import torch
            except ImportError:
                raise ConversionError(f"{p}: reading a .pt file needs torch; or save the state "
                                      "dict with safetensors") from None
            try:
                sd = torch.load(p, map_location="cpu", weights_only=True)
            except Exception as e:  # torch raises many kinds
                raise ConversionError(f"{p}: cannot be read by torch.load: {e}") from None
            if not isinstance(sd, dict):
                raise ConversionError(f"{p}: holds a {type(sd).__name__}, not a state dict "
                                      "(save module.state_dict())")
            sd = {k: v.detach().float().numpy() for k, v in sd.items() if hasattr(v, "detach")}
        prefix = f"{i}." if len(paths) > 1 else ""
        merged.update({prefix + k: np.asarray(v, dtype=np.float32) for k, v in sd.items()})
    return merged


def _torch_to_model(sd, options):
    def group(suffix):
        return sorted(k[:-len(suffix)] for k in sd if k.endswith(suffix))

    att = [p for p in group("Wa.weight") if p + "Ua.weight" in sd and p + "Va.weight" in sd]
    if len(att) != 1:
        raise ConversionError("state dict: expected one BahdanauAttention (keys ...Wa.weight, "
                              f"...Ua.weight, ...Va.weight), found {len(att)}")
    ap = att[0]
    dec_prefix = ap.rsplit(".", 2)[0] + "." if ap.count(".") >= 2 else ""
    grus = group("weight_ih_l0")
    for g in grus:
        if g + "weight_ih_l1" in sd:
            raise ConversionError(f"{g}: a GRU with num_layers > 1 is not supported")
        if g + "weight_ih_l0_reverse" in sd:
            raise ConversionError(f"{g}: a bidirectional PyTorch GRU is not supported (the "
                                  "tutorial's decoder starts from a [1, B, H] state)")
    dec_gru = [g for g in grus if g.startswith(dec_prefix)]
    enc_gru = [g for g in grus if not g.startswith(dec_prefix)]
    if len(dec_gru) != 1 or len(enc_gru) != 1:
        raise ConversionError(f"state dict: expected one encoder GRU and one decoder GRU beside "
                              f"the attention '{ap}', found GRUs {grus}")
    dg, eg = dec_gru[0], enc_gru[0]
    enc_prefix = eg.rsplit(".", 2)[0] + "." if eg.count(".") >= 2 else ""

    def gru(g):
        k, rk, b = torch_gru_to_keras(sd[g + "weight_ih_l0"], sd[g + "weight_hh_l0"],
                                      sd.get(g + "bias_ih_l0"), sd.get(g + "bias_hh_l0"))
        if b is None:
            b = np.zeros((2, k.shape[1]), np.float32)
        return k, rk, b

    t = {}
    ek, erk, eb = gru(eg)
    H = erk.shape[0]
    dk, drk, db = gru(dg)
    Hd = drk.shape[0]
    if Hd != H:
        raise ConversionError(f"{dg}: hidden size {Hd} != encoder's {H}")

    def embedding(prefix, width, what):
        cands = [k for k, v in sd.items() if k.startswith(prefix) and v.ndim == 2
                 and v.shape[1] == width and k.endswith("embedding.weight")]
        if len(cands) != 1:
            cands = [k for k, v in sd.items() if k.startswith(prefix) and v.ndim == 2
                     and v.shape[1] == width and "gru" not in k and "attention" not in k
                     and not k.startswith(ap) and k.endswith(".weight") and
                     (k[:-len("weight")] + "bias") not in sd]
        if len(cands) != 1:
            raise ConversionError(f"state dict: cannot find the {what} embedding (an "
                                  f"nn.Embedding of width {width} under '{prefix}'): {cands}")
        return sd[cands[0]]

    src_table = embedding(enc_prefix, ek.shape[0], "encoder")
    Et = dk.shape[0] - H
    if Et <= 0:
        raise ConversionError(f"{dg}: input size {dk.shape[0]} leaves no room for the "
                              f"embedding beside the {H}-wide context")
    tgt_table = embedding(dec_prefix, Et, "decoder")
    Wa, Ua, Va = sd[ap + "Wa.weight"], sd[ap + "Ua.weight"], sd[ap + "Va.weight"]
    A = Wa.shape[0]
    if Wa.shape != (A, Hd) or Ua.shape != (A, H) or Va.shape != (1, A):
        raise ConversionError(f"{ap}: Wa {Wa.shape}, Ua {Ua.shape}, Va {Va.shape} do not fit "
                              f"hidden size {H} (expected [A, {Hd}], [A, {H}], [1, A])")
    bias = sd.get(ap + "Wa.bias", np.zeros(A, np.float32)) + \
        sd.get(ap + "Ua.bias", np.zeros(A, np.float32))
    outs = [k[:-len("weight")] for k, v in sd.items()
            if k.startswith(dec_prefix) and v.ndim == 2 and v.shape[1] == Hd
            and not k.startswith(ap) and not k.startswith(dg) and k.endswith(".weight")
            and (k[:-len("weight")] + "bias") in sd and sd[k].shape[0] != Hd or
            k.startswith(dec_prefix) and k.endswith("out.weight")]
    outs = sorted(set(outs))
    if len(outs) != 1:
        raise ConversionError(f"state dict: cannot find the decoder's output nn.Linear "
                              f"[Vt, {Hd}] under '{dec_prefix}': {outs}")
    ow, obias = sd[outs[0] + "weight"], sd.get(outs[0] + "bias")
    Vt = ow.shape[0]
    if tgt_table.shape[0] != Vt:
        raise ConversionError(f"{outs[0]}weight: {Vt} outputs, but the decoder embedding has "
                              f"{tgt_table.shape[0]} rows")
    t.update({"encoder.embedding": src_table, "encoder.forward.kernel": ek,
              "encoder.forward.recurrent_kernel": erk, "encoder.forward.bias": eb,
              "decoder.embedding": tgt_table, "decoder.kernel": dk,
              "decoder.recurrent_kernel": drk, "decoder.bias": db,
              "attention.W": Ua.T, "attention.U": Wa.T, "attention.bias": bias,
              "attention.v": Va[0], "output.kernel": ow.T,
              "output.bias": obias if obias is not None else np.zeros(Vt, np.float32)})
    config = {
        "encoder": {"units": H, "bidirectional": False, "embedding_dim": int(src_table.shape[1])},
        "decoder": {"kind": "bahdanau", "units": Hd, "embedding_dim": int(Et)},
        "attention": {"units": int(A), "bias": True},
        "gru_variant": "reset_after",
        # The tutorial: SOS 0, EOS 1, sources padded with 0 after EOS, no mask.
        "source_mask": False,
        "_special_defaults": {"target_start": 0, "target_end": 1},
    }
    return FORMAT_SEQ2SEQ, _finish_seq2seq(config, t, src_table.shape[0], Vt, options)


# --------------------------------------------------------------------------- entry points

def _is_keras(path):
    p = os.fspath(path).lower()
    return p.endswith((".keras", ".h5", ".hdf5"))


def convert(sources, out, options=None) -> dict:
    """Converts `sources` (a path, or a list: two PyTorch state dicts) to the seqattn
    model file `out`. Returns {"format": ..., "config": ...}. Raises ConversionError
    (and writes nothing) when the source cannot be mapped."""
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    sources = [os.fspath(s) for s in sources]
    options = dict(options or {})
    if not sources:
        raise ConversionError("no source file given")
    for s in sources:
        if not os.path.isfile(s):
            raise ConversionError(f"{s}: no such file")
    if not os.path.isdir(os.path.dirname(os.path.abspath(os.fspath(out)))):
        raise ConversionError(f"{out}: no such folder for the output")
    if os.path.abspath(os.fspath(out)) in {os.path.abspath(s) for s in sources}:
        raise ConversionError(f"{out}: the output would overwrite a source")
    if all(_is_keras(s) for s in sources):
        if len(sources) != 1:
            raise ConversionError("a Keras model is one file; got several sources")
        layers, version, origin = _read_keras(sources[0])
        fmt, (config, tensors) = _keras_to_model(layers, options, origin)
        provenance = {"converted_from": f"keras {origin} (keras_version {version})"}
    elif not any(_is_keras(s) for s in sources):
        fmt, (config, tensors) = _torch_to_model(_read_torch(sources), options)
        provenance = {"converted_from": "pytorch state dict"}
    else:
        raise ConversionError("sources mix Keras and PyTorch files")
    tensors = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()}
    for k, v in tensors.items():
        if not np.all(np.isfinite(v)):
            raise ConversionError(f"tensor {k}: holds NaN or infinity")
    meta = {"format": fmt, "format_version": "1", "config": json.dumps(config)}
    meta.update(provenance)
    write_safetensors(out, tensors, meta)
    return {"format": fmt, "config": config}


def _parse_value(text):
    try:
        return json.loads(text)
    except ValueError:
        return text


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m seqattn.convert",
        description="Convert a Keras (.keras, .h5) model or PyTorch state dict(s) "
                    "(.safetensors, .pt) to a seqattn model file.")
    p.add_argument("paths", nargs="+", metavar="SRC ... OUT",
                   help="source file(s) (two for separate encoder/decoder state dicts), then "
                        "the output .safetensors")
    p.add_argument("--options", metavar="JSON", help="a JSON file of options (vocabularies, "
                   "special_tokens, max_source_len, max_target_len, source_padding, ...)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="one option (VALUE as JSON, else a string); special_tokens.KEY=ID "
                        "sets one special token")
    a = p.parse_args(argv)
    if len(a.paths) < 2:
        p.error("give SRC and OUT")
    try:
        options = {}
        if a.options:
            try:
                with open(a.options) as f:
                    options = json.load(f)
            except (OSError, ValueError) as e:
                raise ConversionError(f"--options {a.options}: {e}") from None
            if not isinstance(options, dict):
                raise ConversionError(f"--options {a.options}: not a JSON object")
        for item in a.set:
            key, eq, value = item.partition("=")
            if not eq:
                raise ConversionError(f"--set {item}: expected KEY=VALUE")
            if key.startswith("special_tokens."):
                options.setdefault("special_tokens", {})[key.split(".", 1)[1]] = \
                    _parse_value(value)
            else:
                options[key] = _parse_value(value)
        result = convert(a.paths[:-1], a.paths[-1], options)
    except ConversionError as e:
        print(f"seqattn.convert: error: {e}", file=sys.stderr)
        return 2
    c = result["config"]
    print(f"wrote {a.paths[-1]} ({result['format']}"
          + (f", decoder {c['decoder']['kind']}" if "decoder" in c else "") + ")")
    return 0


if __name__ == "__main__":
    sys.exit(main())
