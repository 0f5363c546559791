"""Converters from Keras and PyTorch files to seqattn model files.

    python -m seqattn.convert SRC [SRC2] OUT.safetensors [--options opts.json] [--set key=value]

The implementation is seqattn._convert (kept apart so that `python -m
seqattn.convert` runs this module fresh, not a copy the package imported);
its docstring and docs/model-format.md ("Converting") describe the sources.
"""

import sys

from ._convert import (ConversionError, convert, main, torch_gru_to_keras,  # noqa: F401
                       write_safetensors)

__all__ = ["ConversionError", "convert", "main", "torch_gru_to_keras", "write_safetensors"]

if __name__ == "__main__":
    sys.exit(main())
