#!/usr/bin/env python3
"""Writes the seed corpus for fuzz_safetensors into tests/fuzz/corpus/.

A few valid files (every dtype, empty and scalar tensors, metadata, a small
model-like file) give the fuzzer the structure to mutate; a few malformed ones
start it at each refusal path. The output is committed; rerun after changing
this script. Standard library only.
"""
import json
import pathlib
import struct

OUT = pathlib.Path(__file__).resolve().parent / "corpus"


def raw(header: bytes, data: bytes = b"", length=None) -> bytes:
    n = len(header) if length is None else length
    return struct.pack("<Q", n) + header + data


def file(tensors, metadata=None, pad=True, data_extra=b"") -> bytes:
    """tensors: list of (name, dtype, shape, bytes); offsets laid out in order."""
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, payload in tensors:
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(data), len(data) + len(payload)]}
        data += payload
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    return raw(text, data + data_extra)


def f32(*values) -> bytes:
    return struct.pack("<%df" % len(values), *values)


def main():
    OUT.mkdir(exist_ok=True)
    seeds = {
        "valid_f32": file([("a", "F32", [2, 3], f32(1, -2, 0.5, 0, -0.0, 3e38)),
                           ("b", "F32", [1], f32(float("nan")))],
                          {"format": "seqattn.seq2seq", "format_version": "1"}),
        "valid_all_dtypes": file([(d, d, [2], bytes(2 * s)) for d, s in
                                  [("BOOL", 1), ("U8", 1), ("I8", 1), ("I16", 2), ("U16", 2),
                                   ("F16", 2), ("BF16", 2), ("I32", 4), ("U32", 4), ("F32", 4),
                                   ("F64", 8), ("I64", 8), ("U64", 8)]]),
        "valid_empty_scalar": file([("e", "F32", [0, 3], b""), ("s", "F32", [], f32(7.0))], {}),
        "valid_header_only": raw(b"{}"),
        "valid_model_like": file(
            [("attention.v", "F32", [2], f32(0.25, -0.5)),
             ("attention.W", "F32", [2, 2], f32(1, 2, 3, 4)),
             ("output.bias", "F32", [3], f32(0, 0, 1))],
            {"format": "seqattn.seq2seq", "format_version": "1",
             "config": json.dumps({"encoder": {"units": 1, "bidirectional": True,
                                               "embedding_dim": 0},
                                   "source_vocab": ["<pad>", "a"]})}),
        "valid_unknown_keys_hole": raw(
            b'{"t":{"dtype":"F32","shape":[1],"data_offsets":[4,8],"x":[{"y":null}]}}  ',
            b"\xff" * 4 + f32(1.5)),
        "bad_overlap": raw(b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
                           b'"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', bytes(12)),
        "bad_reversed": raw(b'{"t":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}', bytes(8)),
        "bad_truncated_data": raw(b'{"t":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}',
                                  bytes(8)),
        "bad_header_length": raw(b'{"t":{}}', length=1 << 40),
        "bad_nesting": raw(b"[" * 100 + b"]" * 100),
        "bad_dtype_shape": raw(b'{"t":{"dtype":"F128","shape":[-1,2.5],"data_offsets":[0,0]}}'),
        "bad_metadata": raw(b'{"__metadata__":{"a":1,"b":["c"]}}'),
        "bad_shape_overflow": raw(b'{"t":{"dtype":"F32","shape":[1099511627776,1099511627776],'
                                  b'"data_offsets":[0,8]}}', bytes(8)),
        "bad_byte_length": raw(b'{"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}',
                               bytes(8)),
        # A large header (about 100 KB: many entries, each a few non-empty), so
        # the fuzzer starts where a parser slower than linear shows up as a
        # timeout, and mutates towards the 1 MB inputs run_fuzz.sh allows.
        "valid_many_tensors": file(
            [("t%05d" % i, "F32", [i % 3], f32(*range(i % 3))) for i in range(1500)],
            {"format": "seqattn.seq2seq", "format_version": "1",
             "config": json.dumps({"unused": {str(i): {} for i in range(1000)}})}),
    }
    for name, content in seeds.items():
        (OUT / name).write_bytes(content)


if __name__ == "__main__":
    main()
