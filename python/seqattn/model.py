"""seqattn.model.Model: a model file (docs/model-format.md) loaded into a
handle's memory: an attention seq2seq model, translating text by greedy
decoding and showing where it attended, or a sequence head (SimpleRNN/GRU
layers -> attention pooling -> Dense layers) mapping x [B, T, F] to y [B, N]
with predict().

    import seqattn
    from seqattn.model import Model
    with seqattn.Handle() as h, Model(h) as m:          # the default date model
        m.translate(["21 Nov 2026", "Saturday, November 21, 2026"])
        # ['2026-11-21', '2026-11-21']
        weights, src, out = m.attention("21 Nov 2026")  # [len(out), len(src)]
    with seqattn.Handle() as h, Model(h, "forecaster.safetensors") as m:
        y = m.predict(x)                                 # x [B, T, F] -> y [B, N]
        y, weights = m.predict(x, pooling_weights=True)  # weights [B, T]

A model file without vocabularies (docs/model-format.md) works on token ids:
wherever a text goes in or comes out, it is then a string of space-separated
ids ("5 8 3"; a list of ints is taken too), on the side without a vocabulary;
source_vocab / target_vocab are None.

Token arrays, lengths and outputs are host (numpy) memory on every device;
the weights and the work stay on the handle's device. A Model runs only with
the handle it was loaded on; it may be closed before or after that handle.
Like that handle, a Model is for one thread at a time (its handle's threads
included): give each thread its own Handle and Model, or hold a lock.
"""

from __future__ import annotations

import ctypes
import os
from ctypes import POINTER, byref, c_char_p, c_float, c_int32, c_size_t
from pathlib import Path

import numpy as np

from . import _raw
from ._handle import Closeable, Handle, check_status
from ._tensors import int32_array, int32_value

_i32p = POINTER(c_int32)
_f32p = POINTER(c_float)


def default_model_path() -> Path:
    """models/date_model.safetensors: $SEQATTN_DEFAULT_MODEL, else the source
    tree this package sits in, else a copy next to the package."""
    env = os.environ.get("SEQATTN_DEFAULT_MODEL")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent
    for candidate in (here.parents[1] / "models" / "date_model.safetensors",
                      here / "date_model.safetensors"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        "seqattn: the default model models/date_model.safetensors was not found next to "
        f"this package ({here}); pass path=... or set SEQATTN_DEFAULT_MODEL")


def _lengths(a, batch: int, name: str) -> np.ndarray | None:
    """[B] int32 lengths, or None; the C call reads exactly B of them."""
    if a is None:
        return None
    a = int32_array(name, a)
    if a.shape != (batch,):
        raise ValueError(f"{name} must have shape ({batch},), got {a.shape}")
    return a


def _c_string(name: str, raw: bytes) -> bytes:
    """`raw` for a const char* argument: C would stop at an embedded NUL and
    silently use only what comes before it."""
    at = raw.find(b"\0")
    if at >= 0:
        raise ValueError(f"{name} contains a NUL byte (at byte {at}), which would cut it "
                         "short in C")
    return raw


_HEAD_FIELDS = ("input_features", "steps", "output_dim", "pooled_dim", "rnn_layers",
                "dense_layers")


def _info_dict(i: _raw.seqattn_model_info) -> dict:
    """seqattn_model_info as plain Python values, strings decoded."""
    out = {name: getattr(i, name) for name, _ in i._fields_
           if name not in ("struct_size", "name", "description")}
    out["bidirectional"] = bool(i.bidirectional)
    out["attention_bias"] = bool(i.attention_bias)
    out["lowercase_source"] = bool(i.lowercase_source)
    out["gru_variant"] = ("reset_after" if i.gru_variant == _raw.SEQATTN_GRU_RESET_AFTER
                          else "reset_before")
    out["tokenization"] = ("chars" if i.tokenization == _raw.SEQATTN_TOKENIZATION_CHARS
                           else "words")
    out["decoder_kind"] = ("bahdanau" if i.decoder_kind == _raw.SEQATTN_DECODER_BAHDANAU
                           else "attention_keras")
    out["source_padding"] = "pre" if i.source_padding_pre else "post"
    del out["source_padding_pre"]
    out["source_mask"] = bool(i.source_mask)
    out["has_source_vocab"] = bool(i.has_source_vocab)
    out["has_target_vocab"] = bool(i.has_target_vocab)
    out["name"] = (i.name or b"").decode("utf-8", "replace")
    out["description"] = (i.description or b"").decode("utf-8", "replace")
    # Each kind's dict has its own fields only (the struct holds 0 for the other's).
    if i.kind == _raw.SEQATTN_MODEL_SEQUENCE_HEAD:
        out = {k: out[k] for k in ("name", "description") + _HEAD_FIELDS}
        out["kind"] = "sequence_head"
    else:
        for k in _HEAD_FIELDS:
            del out[k]
        out["kind"] = "seq2seq"
    return out


def _parse_ids(text, name: str) -> np.ndarray:
    """Token ids from "5 8 3" (or from a sequence of ints), for a model side
    without a vocabulary; the C call checks their range."""
    if isinstance(text, str):
        pieces = text.split()
        for p in pieces:
            if not (p.isascii() and p.isdigit()):
                raise ValueError(f"{name}: {p!r} is not a token id (a model without a "
                                 "vocabulary takes space-separated non-negative integers)")
        return int32_array(name, [int(p) for p in pieces]).reshape(-1)
    return int32_array(name, text).reshape(-1)


def _join_ids(ids) -> str:
    return " ".join(str(int(i)) for i in ids)


def _ptr(a: np.ndarray | None, ctype):
    return None if a is None else a.ctypes.data_as(ctype)


class Model(Closeable):
    """A model file loaded on `handle`; `path` None means the default date model.

    One thread at a time, together with its handle: sharing them between
    threads that call at once crashes in the library's block cache."""

    def __init__(self, handle: Handle, path: str | os.PathLike | None = None):
        self._m = None  # so that __del__ after a failed __init__ has nothing to free
        if not isinstance(handle, Handle):
            raise TypeError(f"handle must be a seqattn.Handle, got {type(handle).__name__}")
        self.path = Path(path) if path is not None else default_model_path()
        model = _raw.seqattn_model()
        raw_path = _c_string("path", os.fsencode(self.path))
        check_status(_raw.seqattn_model_load(handle, raw_path, byref(model)))
        self._m = model
        self.handle = handle  # kept alive: the weights live in its memory
        info = _raw.seqattn_model_info()
        _raw.seqattn_model_info_init(byref(info))
        check_status(_raw.seqattn_model_get_info(model, byref(info)))
        # Copied now: info.name and info.description point into the model,
        # which close() frees while this object (and its info) may live on.
        self._info = _info_dict(info)
        # None: the file has no vocabulary for that side (token ids only).
        self.source_vocab = ([self._token(_raw.seqattn_model_source_token, i)
                              for i in range(info.source_vocab_size)]
                             if info.has_source_vocab else None)
        self.target_vocab = ([self._token(_raw.seqattn_model_target_token, i)
                              for i in range(info.target_vocab_size)]
                             if info.has_target_vocab else None)
        self._target_index = {}
        for i, t in enumerate(self.target_vocab or []):
            self._target_index.setdefault(t, i)

    # ------------------------------------------------------------ lifetime

    def _model(self):
        if self._m is None:
            raise ValueError("the seqattn Model is closed")
        if self.handle.closed:
            raise ValueError("the Handle this Model was loaded on is closed")
        return self._m

    def _seq2seq(self):
        """The model, after the library confirms it is a seq2seq model: a
        sequence head is refused with the library's message naming its kind."""
        m = self._model()
        if self._info["kind"] != "seq2seq":
            check_status(_raw.seqattn_model_source_vocab_size(m, byref(c_int32())))
        return m

    def close(self) -> None:
        m, self._m = self._m, None
        if m is None:
            return
        # The model keeps its handle's device memory alive in the library, so
        # it may be destroyed after the handle was closed.
        _raw.seqattn_model_destroy(m)

    @property
    def closed(self) -> bool:
        return self._m is None

    def __repr__(self) -> str:
        name = self._info["name"] if self._m is not None else "closed"
        return f"<seqattn.Model {name!r} from {self.path}>"

    # ---------------------------------------------------------------- info

    @property
    def info(self) -> dict:
        """The configuration: sizes, vocabulary sizes, special tokens, names
        (a copy made at load time, so still readable after close())."""
        return dict(self._info)

    def _token(self, fn, i: int) -> str:
        s = c_char_p()
        check_status(fn(self._m, i, byref(s)))
        return s.value.decode("utf-8", "replace")

    # ---------------------------------------------------------- tokenising

    def encode_source(self, text: str) -> np.ndarray:
        """Source token ids of `text`, tokenised as the model was trained (without
        a source vocabulary: the ids written in `text`)."""
        return self._encode_source(text, "text")

    def _encode_source(self, text: str, name: str) -> np.ndarray:
        m = self._model()
        if self.source_vocab is None:
            return _parse_ids(text, name)
        if not isinstance(text, str):
            raise TypeError(f"{name} must be a str, got {type(text).__name__}")
        raw = _c_string(name, text.encode("utf-8"))
        n = c_int32()
        check_status(_raw.seqattn_model_encode_source(m, raw, None, 0, byref(n)))
        ids = np.zeros(n.value, np.int32)
        if n.value:
            check_status(_raw.seqattn_model_encode_source(m, raw, _ptr(ids, _i32p), n.value,
                                                          byref(n)))
        return ids

    def decode_target(self, ids) -> str:
        """Text of target ids (pad, start and end left out). Without a target
        vocabulary the library refuses (seqattn.SeqattnError): use the ids."""
        m = self._model()
        ids = int32_array("ids", ids).reshape(-1)
        n = c_size_t()
        check_status(_raw.seqattn_model_decode_target(m, _ptr(ids, _i32p), len(ids), None, 0,
                                                      byref(n)))
        buf = ctypes.create_string_buffer(n.value + 1)
        check_status(_raw.seqattn_model_decode_target(m, _ptr(ids, _i32p), len(ids), buf,
                                                      n.value + 1, byref(n)))
        return buf.raw[:n.value].decode("utf-8", "replace")

    def encode_target(self, text: str) -> np.ndarray:
        """Target ids of `text` (chars or words, as the model's tokenisation), for
        scoring; a token outside the target vocabulary raises ValueError."""
        self._seq2seq()
        self._model()  # a closed model encodes nothing, like the C calls
        if self.target_vocab is None:
            return _parse_ids(text, "target")
        pieces = list(text) if self._info["tokenization"] == "chars" else text.split()
        try:
            return np.array([self._target_index[p] for p in pieces], np.int32)
        except KeyError as e:
            raise ValueError(f"{e.args[0]!r} is not in the target vocabulary") from None

    def _batch(self, texts, name: str, single: bool = False):
        rows = [self._encode_source(t, name if single else f"{name}[{b}]")
                for b, t in enumerate(texts)]
        steps = max([1] + [len(r) for r in rows])  # an empty text still needs one step
        src = np.full((len(rows), steps), self._info["source_pad"], np.int32)
        for b, r in enumerate(rows):
            src[b, :len(r)] = r
        return src, np.array([len(r) for r in rows], np.int32), rows

    # --------------------------------------------------------------- running

    def translate_tokens(self, src_tokens, src_lengths=None, max_steps=None,
                         attention=False):
        """Greedy decoding of token ids [B, Ts]. Returns (tokens [B, max_steps],
        lengths [B]) or, with attention=True, (tokens, lengths, weights
        [B, max_steps, Ts]); past a row's length tokens are target_pad and
        weights 0."""
        self._seq2seq()
        m = self._model()
        src = int32_array("src_tokens", src_tokens)
        if src.ndim != 2:
            raise ValueError(f"src_tokens must be [batch, steps], got shape {src.shape}")
        lengths = _lengths(src_lengths, src.shape[0], "src_lengths")
        # Checked before the outputs are allocated: they are [B, max_steps, ...].
        steps = (int32_value("max_steps", max_steps, low=1) if max_steps is not None
                 else self._info["max_target_len"])
        B, Ts = src.shape
        out = np.zeros((B, steps), np.int32)
        out_len = np.zeros(B, np.int32)
        weights = np.zeros((B, steps, Ts), np.float32) if attention else None
        check_status(_raw.seqattn_model_translate(
            self.handle, m, B, Ts, _ptr(src, _i32p), _ptr(lengths, _i32p), steps,
            _ptr(out, _i32p), _ptr(out_len, _i32p), _ptr(weights, _f32p)))
        return (out, out_len, weights) if attention else (out, out_len)

    def translate(self, texts, max_steps=None):
        """Translations of a list of strings (or of one string, then a string).
        Without a target vocabulary a translation is its space-separated ids."""
        self._seq2seq()
        if max_steps is not None:  # before any tokenising or allocation
            max_steps = int32_value("max_steps", max_steps, low=1)
        single = isinstance(texts, str)
        texts = [texts] if single else list(texts)
        if not texts:
            return []
        src, lengths, _ = self._batch(texts, "texts", single)
        out, out_len = self.translate_tokens(src, lengths, max_steps)
        result = [self._target_text(out[b, :out_len[b]]) for b in range(len(texts))]
        return result[0] if single else result

    def _target_text(self, ids) -> str:
        return _join_ids(ids) if self.target_vocab is None else self.decode_target(ids)

    def attention(self, text: str, max_steps=None):
        """(weights [len(out), len(src)], source tokens, output tokens) of one
        translation: the tokens are the vocabulary's strings (ints on a side
        without one); weights[t, i] is how much output token t attended to
        source token i."""
        self._seq2seq()
        if max_steps is not None:
            max_steps = int32_value("max_steps", max_steps, low=1)
        src, lengths, rows = self._batch([text], "text", single=True)
        out, out_len, w = self.translate_tokens(src, lengths, max_steps, attention=True)
        n_out, n_src = int(out_len[0]), len(rows[0])
        src_tokens = [int(i) if self.source_vocab is None else self.source_vocab[i]
                      for i in rows[0]]
        out_tokens = [int(i) if self.target_vocab is None else self.target_vocab[i]
                      for i in out[0, :n_out]]
        return w[0, :n_out, :n_src].copy(), src_tokens, out_tokens

    def score(self, sources, targets=None, src_lengths=None, tgt_lengths=None):
        """Teacher-forced next-token probabilities.

        score(list_of_source_texts, list_of_target_texts): the decoder reads
        <start> + target and probs[b, t] is the distribution of token t of
        target + <end>; returns (probs [B, Td, Vt], attention [B, Td, Ts],
        tgt_out [B, Td]) with tgt_out the ids whose probabilities to read
        (padded with -1).
        score(src_tokens [B, Ts], tgt_in_tokens [B, Td], src_lengths, tgt_lengths):
        the C call on token ids; returns (probs, attention). Rows past a length are 0.
        """
        self._seq2seq()
        if targets is not None and len(targets) and isinstance(targets[0], str):
            if len(sources) != len(targets):
                raise ValueError(f"{len(sources)} sources but {len(targets)} targets")
            src, s_len, _ = self._batch(sources, "sources")
            tgts = [self.encode_target(t) for t in targets]
            Td = max(len(t) for t in tgts) + 1
            tgt_in = np.full((len(tgts), Td), self._info["target_pad"], np.int32)
            tgt_out = np.full((len(tgts), Td), -1, np.int32)
            for b, t in enumerate(tgts):
                tgt_in[b, 0] = self._info["target_start"]
                tgt_in[b, 1:len(t) + 1] = t
                tgt_out[b, :len(t)] = t
                tgt_out[b, len(t)] = self._info["target_end"]
            t_len = np.array([len(t) + 1 for t in tgts], np.int32)
            probs, att = self._score(src, tgt_in, s_len, t_len)
            return probs, att, tgt_out
        return self._score(int32_array("src_tokens", sources),
                           int32_array("tgt_in_tokens", targets), src_lengths, tgt_lengths)

    def _score(self, src, tgt_in, src_lengths, tgt_lengths):
        m = self._model()
        if src.ndim != 2 or tgt_in.ndim != 2 or src.shape[0] != tgt_in.shape[0]:
            raise ValueError(f"src_tokens [B, Ts] and tgt_in_tokens [B, Td] expected, got "
                             f"{src.shape} and {tgt_in.shape}")
        B, Ts = src.shape
        Td = tgt_in.shape[1]
        s_len = _lengths(src_lengths, B, "src_lengths")
        t_len = _lengths(tgt_lengths, B, "tgt_lengths")
        probs = np.zeros((B, Td, self._info["target_vocab_size"]), np.float32)
        att = np.zeros((B, Td, Ts), np.float32)
        check_status(_raw.seqattn_model_score(
            self.handle, m, B, Ts, _ptr(src, _i32p), _ptr(s_len, _i32p), Td,
            _ptr(tgt_in, _i32p), _ptr(t_len, _i32p), _ptr(probs, _f32p), _ptr(att, _f32p)))
        return probs, att

    def predict(self, x, pooling_weights=False):
        """A sequence head's outputs: x [B, T, F] (floating point; converted to
        float32) -> y [B, N] float32, with T and F the model's (info["steps"],
        info["input_features"]). pooling_weights=True returns (y, weights
        [B, T]), the attention pooling's softmax weights. A seq2seq model,
        or other steps or features, raise seqattn.SeqattnError naming them."""
        m = self._model()
        array = np.asarray(x)
        if array.dtype.kind != "f":
            raise TypeError(f"x must hold floating-point values, got dtype {array.dtype}")
        if array.ndim != 3:
            raise ValueError(f"x must be [batch, steps, features], got shape {array.shape}")
        x32 = np.ascontiguousarray(array, dtype=np.float32)
        if not x32.flags.aligned:
            x32 = x32.copy()
        B, T, F = x32.shape
        # A seq2seq model has no output_dim: the C call refuses it, naming the kind.
        y = np.zeros((B, self._info.get("output_dim", 0)), np.float32)
        weights = np.zeros((B, T), np.float32) if pooling_weights else None
        check_status(_raw.seqattn_model_predict(
            self.handle, m, int32_value("batch", B), int32_value("steps", T),
            int32_value("features", F), _ptr(x32, _f32p), _ptr(y, _f32p),
            _ptr(weights, _f32p)))
        return (y, weights) if pooling_weights else y
