"""The seqattn seq2seq model (docs/model-format.md) in Keras 3, and its exporter.

    src tokens [B, Ts] -> Embedding(mask_zero) or one-hot -> encoder GRU
                          (optionally Bidirectional, merge concat)
    tgt tokens [B, Td] -> Embedding or one-hot -> decoder GRU, initial state =
                          encoder final state (concat[fwd, bwd] when bidirectional)
    context, weights = AdditiveAttention(encoder outputs, decoder outputs, source mask)
    probs = Dense(Vt, softmax)(concat[decoder outputs, context])

Keras is used only by the tools in this directory; the library, its tests and
CI never import it. Run with KERAS_BACKEND=jax (set below when unset).
"""

import json
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

FORMAT = "seqattn.seq2seq"
FORMAT_VERSION = "1"


def versions():
    """Versions recorded in every file the tools write (parity depends on them)."""
    import jax

    return {
        "keras_version": keras.__version__,
        "keras_backend": keras.backend.backend(),
        "jax_version": jax.__version__,
        "numpy_version": np.__version__,
    }


class OneHot(keras.layers.Layer):
    """Token ids -> one-hot rows; the GRU kernel then acts as an embedding table.

    With mask_zero the pad id 0 yields a False mask, as Embedding(mask_zero=True).
    """

    def __init__(self, depth, mask_zero=False, **kwargs):
        super().__init__(**kwargs)
        self.depth = depth
        self.mask_zero = mask_zero

    def call(self, tokens):  # [B, T] int -> [B, T, depth]
        return ops.one_hot(tokens, self.depth, dtype=self.compute_dtype)

    def compute_mask(self, tokens, mask=None):
        if not self.mask_zero:
            return None
        return ops.not_equal(tokens, 0)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.depth,)

    def get_config(self):
        return {**super().get_config(), "depth": self.depth, "mask_zero": self.mask_zero}


class AdditiveAttention(keras.layers.Layer):
    """Bahdanau attention of docs/math.md, written from its math.

        keys[b,i]  = h[b,i] . W + bias                          [B, Ts, A]
        e[b,t,i]   = sum_a v[a] tanh(keys[b,i,a] + (s[b,t] . U)[a])
        w[b,t,:]   = softmax over valid i (mask) of e[b,t,:]; 0 at masked i
        context    = sum_i w[b,t,i] h[b,i]                       [B, Td, He]

    Inputs [h [B, Ts, He], s [B, Td, Hd]]; the source mask arrives as Keras'
    propagated mask of h (from Embedding(mask_zero=True) through the GRU).
    Returns [context, weights].
    """

    def __init__(self, units, use_bias=False, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.use_bias = use_bias
        self.supports_masking = True

    def build(self, input_shape):
        h_shape, s_shape = input_shape
        self.W = self.add_weight(name="W", shape=(h_shape[-1], self.units),
                                 initializer="glorot_uniform")
        self.U = self.add_weight(name="U", shape=(s_shape[-1], self.units),
                                 initializer="glorot_uniform")
        self.bias = (self.add_weight(name="bias", shape=(self.units,), initializer="zeros")
                     if self.use_bias else None)
        self.v = self.add_weight(name="v", shape=(self.units,),
                                 initializer=keras.initializers.RandomUniform(-0.1, 0.1))

    def call(self, inputs, mask=None):
        h, s = inputs
        keys = ops.matmul(h, self.W)  # [B, Ts, A]
        if self.bias is not None:
            keys = keys + self.bias
        queries = ops.matmul(s, self.U)  # [B, Td, A]
        # [B, Td, Ts, A] is fine at these sizes; the native kernel never forms it.
        scores = ops.sum(self.v * ops.tanh(keys[:, None, :, :] + queries[:, :, None, :]),
                         axis=-1)  # [B, Td, Ts]
        src_mask = mask[0] if isinstance(mask, (list, tuple)) else None
        if src_mask is None:
            valid = ops.ones_like(scores)
        else:
            valid = ops.cast(src_mask, scores.dtype)[:, None, :]  # [B, 1, Ts]
        # Masked positions must not win the max or contribute to the sum; a row
        # with no valid position gives weights 0 (sum guarded), never NaN.
        masked = ops.where(valid > 0, scores, ops.full_like(scores, -1e30))
        row_max = ops.max(masked, axis=-1, keepdims=True)
        expd = ops.exp(ops.where(valid > 0, scores - row_max, ops.zeros_like(scores))) * valid
        total = ops.sum(expd, axis=-1, keepdims=True)
        weights = expd / ops.maximum(total, 1e-30)
        context = ops.matmul(weights, h)  # [B, Td, He]
        return context, weights

    def compute_mask(self, inputs, mask=None):
        # The outputs run over decoder steps; the encoder mask does not apply.
        return [None, None]

    def compute_output_shape(self, input_shape):
        h_shape, s_shape = input_shape
        return ((s_shape[0], s_shape[1], h_shape[-1]), (s_shape[0], s_shape[1], h_shape[1]))

    def get_config(self):
        return {**super().get_config(), "units": self.units, "use_bias": self.use_bias}


def build_model(config):
    """Builds the model of `config` (the model-format config dict).

    Returns (train_model, full_model, layers): train_model maps [src, tgt_in]
    to probs [B, Td, Vt]; full_model to [probs, attention weights [B, Td, Ts]];
    layers names the layers whose weights export_model writes.
    """
    enc, dec, att = config["encoder"], config["decoder"], config["attention"]
    vs, vt = len(config["source_vocab"]), len(config["target_vocab"])
    reset_after = {"reset_after": True, "reset_before": False}[config["gru_variant"]]
    bidir = enc["bidirectional"]
    he = enc["units"] * (2 if bidir else 1)
    if dec["units"] != he:
        raise ValueError(f"decoder.units {dec['units']} must equal encoder output size {he}")
    mask_source = config.get("mask_source", True)

    src = keras.Input(shape=(None,), dtype="int32", name="src_tokens")
    tgt = keras.Input(shape=(None,), dtype="int32", name="tgt_in_tokens")
    layers = {}
    if enc["embedding_dim"] > 0:
        layers["src_embed"] = keras.layers.Embedding(vs, enc["embedding_dim"],
                                                     mask_zero=mask_source, name="src_embed")
    else:
        layers["src_embed"] = OneHot(vs, mask_zero=mask_source, name="src_onehot")
    x = layers["src_embed"](src)  # [B, Ts, Es]

    gru_args = dict(return_sequences=True, return_state=True, reset_after=reset_after)
    if bidir:
        layers["encoder"] = keras.layers.Bidirectional(
            keras.layers.GRU(enc["units"], **gru_args), merge_mode="concat", name="encoder")
        h, fwd_state, bwd_state = layers["encoder"](x)  # [B, Ts, 2H], [B, H], [B, H]
        state = keras.layers.Concatenate(axis=-1, name="encoder_state")([fwd_state, bwd_state])
    else:
        layers["encoder"] = keras.layers.GRU(enc["units"], name="encoder", **gru_args)
        h, state = layers["encoder"](x)

    if dec["embedding_dim"] > 0:
        layers["tgt_embed"] = keras.layers.Embedding(vt, dec["embedding_dim"], name="tgt_embed")
    else:
        layers["tgt_embed"] = OneHot(vt, name="tgt_onehot")
    y = layers["tgt_embed"](tgt)  # [B, Td, Et]
    layers["decoder"] = keras.layers.GRU(dec["units"], return_sequences=True,
                                         reset_after=reset_after, name="decoder")
    s = layers["decoder"](y, initial_state=[state])  # [B, Td, Hd]

    layers["attention"] = AdditiveAttention(att["units"], use_bias=att["bias"], name="attention")
    context, weights = layers["attention"]([h, s])
    cat = keras.layers.Concatenate(axis=-1, name="decoder_concat")([s, context])
    layers["output"] = keras.layers.Dense(vt, activation="softmax", name="output")
    probs = layers["output"](cat)

    train_model = keras.Model([src, tgt], probs, name="seq2seq")
    full_model = keras.Model([src, tgt], [probs, weights], name="seq2seq_with_attention")
    return train_model, full_model, layers


def _np(variable):
    return np.asarray(keras.ops.convert_to_numpy(variable), dtype=np.float32)


def _gru_tensors(prefix, gru_layer):
    cell = gru_layer.cell
    return {f"{prefix}.kernel": _np(cell.kernel),
            f"{prefix}.recurrent_kernel": _np(cell.recurrent_kernel),
            f"{prefix}.bias": _np(cell.bias)}


def model_tensors(config, layers):
    """The model's weights under the canonical names of docs/model-format.md."""
    t = {}
    if config["encoder"]["embedding_dim"] > 0:
        t["encoder.embedding"] = _np(layers["src_embed"].embeddings)
    if config["encoder"]["bidirectional"]:
        t.update(_gru_tensors("encoder.forward", layers["encoder"].forward_layer))
        t.update(_gru_tensors("encoder.backward", layers["encoder"].backward_layer))
    else:
        t.update(_gru_tensors("encoder.forward", layers["encoder"]))
    if config["decoder"]["embedding_dim"] > 0:
        t["decoder.embedding"] = _np(layers["tgt_embed"].embeddings)
    t.update(_gru_tensors("decoder", layers["decoder"]))
    att = layers["attention"]
    t["attention.W"] = _np(att.W)
    t["attention.U"] = _np(att.U)
    if att.bias is not None:
        t["attention.bias"] = _np(att.bias)
    t["attention.v"] = _np(att.v)
    t["output.kernel"] = _np(layers["output"].kernel)
    t["output.bias"] = _np(layers["output"].bias)
    return t


def assign_tensors(config, layers, tensors):
    """The inverse of model_tensors: sets the layers' weights from canonical names."""
    def gru(prefix, gru_layer):
        cell = gru_layer.cell
        cell.kernel.assign(tensors[f"{prefix}.kernel"])
        cell.recurrent_kernel.assign(tensors[f"{prefix}.recurrent_kernel"])
        cell.bias.assign(tensors[f"{prefix}.bias"])

    if config["encoder"]["embedding_dim"] > 0:
        layers["src_embed"].embeddings.assign(tensors["encoder.embedding"])
    if config["encoder"]["bidirectional"]:
        gru("encoder.forward", layers["encoder"].forward_layer)
        gru("encoder.backward", layers["encoder"].backward_layer)
    else:
        gru("encoder.forward", layers["encoder"])
    if config["decoder"]["embedding_dim"] > 0:
        layers["tgt_embed"].embeddings.assign(tensors["decoder.embedding"])
    gru("decoder", layers["decoder"])
    att = layers["attention"]
    att.W.assign(tensors["attention.W"])
    att.U.assign(tensors["attention.U"])
    if att.bias is not None:
        att.bias.assign(tensors["attention.bias"])
    att.v.assign(tensors["attention.v"])
    layers["output"].kernel.assign(tensors["output.kernel"])
    layers["output"].bias.assign(tensors["output.bias"])


def load_model(path):
    """Builds the Keras model described by a seqattn model file and loads its weights."""
    from safetensors.numpy import load_file
    from safetensors import safe_open

    with safe_open(path, framework="numpy") as f:
        metadata = f.metadata()
    if metadata.get("format") != FORMAT or metadata.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path}: not a {FORMAT} v{FORMAT_VERSION} file")
    config = json.loads(metadata["config"])
    train_model, full_model, layers = build_model(config)
    assign_tensors(config, layers, load_file(path))
    return config, train_model, full_model, layers


def file_config(config):
    """The config as stored in the file: the documented fields only."""
    keys = ["encoder", "decoder", "attention", "gru_variant", "tokenization",
            "lowercase_source", "source_vocab", "target_vocab", "special_tokens",
            "max_source_len", "max_target_len", "name", "description"]
    return {k: config[k] for k in keys}


def model_metadata(config, extra=None):
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION,
            "config": json.dumps(file_config(config), separators=(",", ":"))}
    meta.update(versions())
    meta.update(extra or {})
    return meta


def save_safetensors(path, tensors, metadata):
    """Writes tensors (numpy float32 or int32 arrays) with string metadata.

    Written by hand rather than with safetensors.save_file, whose metadata order
    changes from run to run: here the header is deterministic (metadata keys and
    tensor names sorted, data in name order, contiguous), so re-exporting the
    same weights gives the same bytes. The header is space-padded to a multiple
    of 8 bytes, as the reference writer does."""
    dtypes = {np.dtype(np.float32): "F32", np.dtype(np.int32): "I32"}
    header = {"__metadata__": {k: str(metadata[k]) for k in sorted(metadata)}}
    blobs, offset = [], 0
    for name in sorted(tensors):
        value = np.ascontiguousarray(tensors[name])
        if value.dtype not in dtypes:
            raise TypeError(f"{name}: dtype {value.dtype} (only float32 and int32 are written)")
        blob = value.astype(value.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": dtypes[value.dtype], "shape": list(value.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as f:
        f.write(len(head).to_bytes(8, "little"))
        f.write(head)
        for blob in blobs:
            f.write(blob)


def export_model(path, config, layers, extra_tensors=None, extra_metadata=None):
    """Writes the model (and optional fixture.* tensors) to a safetensors file."""
    tensors = model_tensors(config, layers)
    for name in extra_tensors or {}:
        if name in tensors:
            raise ValueError(f"extra tensor {name} would shadow a model tensor")
    tensors.update(extra_tensors or {})
    save_safetensors(path, tensors, model_metadata(config, extra_metadata))


# --- tokenisation, as the C++ side does it (docs/model-format.md) -------------

def encode_source(text, config):
    if config["lowercase_source"]:
        text = "".join(c.lower() if "A" <= c <= "Z" else c for c in text)
    vocab = {tok: i for i, tok in enumerate(config["source_vocab"])}
    unk = config["special_tokens"]["source_unk"]
    pieces = list(text) if config["tokenization"] == "chars" else text.split()
    return [vocab.get(p, unk) for p in pieces]


def encode_target(text, config):
    vocab = {tok: i for i, tok in enumerate(config["target_vocab"])}
    pieces = list(text) if config["tokenization"] == "chars" else text.split()
    return [vocab[p] for p in pieces]


def decode_target(ids, config):
    sep = "" if config["tokenization"] == "chars" else " "
    return sep.join(config["target_vocab"][i] for i in ids)


def pad_batch(seqs, pad, length=None):
    length = length or max(len(s) for s in seqs)
    out = np.full((len(seqs), length), pad, dtype=np.int32)
    for i, s in enumerate(seqs):
        out[i, :len(s)] = s
    return out


def greedy_decode(train_model, src_tokens, config, steps=None, batch_size=512):
    """Greedy decoding with the teacher-forced model: the decoder is causal, so
    the probabilities at step t depend only on tokens 0..t of a fixed-length
    buffer; one compiled shape serves every step. Returns lists of token ids
    (stopped at `end`, which is not included)."""
    sp = config["special_tokens"]
    steps = steps or config["max_target_len"]
    n = src_tokens.shape[0]
    results = []
    for lo in range(0, n, batch_size):
        src = src_tokens[lo:lo + batch_size]
        buf = np.full((src.shape[0], steps), sp["target_pad"], dtype=np.int32)
        buf[:, 0] = sp["target_start"]
        out = np.zeros((src.shape[0], steps), dtype=np.int32)
        for t in range(steps):
            probs = np.asarray(train_model.predict_on_batch([src, buf]))
            out[:, t] = probs[:, t].argmax(-1)
            if t + 1 < steps:
                buf[:, t + 1] = out[:, t]
        for row in out:
            ids = []
            for tok in row:
                if tok == sp["target_end"]:
                    break
                ids.append(int(tok))
            results.append(ids)
    return results
