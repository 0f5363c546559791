"""The date normaliser's data: the synthetic date generator, its seeds, the
vocabularies and the model config of models/date_model.safetensors.

Pure Python and numpy (no Keras), so that trainers other than
tools/train_date_model.py (examples/train_dates_torch.py) draw exactly the
same examples from the same seeds. The input conventions are in the docstring
of tools/train_date_model.py.
"""

import datetime
import os
import random

import numpy as np

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
FIRST_DAY = datetime.date(1900, 1, 1).toordinal()
LAST_DAY = datetime.date(2099, 12, 31).toordinal()

FORMATS = ["D Month YYYY", "D Mon YYYY", "Month D, YYYY", "Mon D, YYYY", "Mon D YYYY",
           "D/M/YYYY", "YYYY-MM-DD", "Weekday, D Month YYYY", "Weekday, Month D, YYYY",
           "D.M.YYYY"]
CASES = ["title", "lower", "upper", "mixed"]

SEEDS = {"train": 20261121, "validation": 7, "heldout": 99, "init": 1}

SOURCE_VOCAB = (["<pad>", "<unk>", " ", ",", "-", ".", "/"] + [str(d) for d in range(10)]
                + [chr(c) for c in range(ord("a"), ord("z") + 1)])
TARGET_VOCAB = ["<pad>", "<start>", "<end>", "-"] + [str(d) for d in range(10)]
MAX_SOURCE_LEN = 32   # the longest input, "Wednesday, September 30, 2026", has 29
MAX_TARGET_LEN = 12   # "YYYY-MM-DD" + <end> = 11 steps

CONFIG = {
    "encoder": {"units": 64, "bidirectional": True, "embedding_dim": 32},
    "decoder": {"units": 128, "embedding_dim": 32},
    "attention": {"units": 64, "bias": False},
    "gru_variant": "reset_after",
    "tokenization": "chars",
    "lowercase_source": True,
    "source_vocab": SOURCE_VOCAB,
    "target_vocab": TARGET_VOCAB,
    "special_tokens": {"source_pad": 0, "source_unk": 1,
                       "target_pad": 0, "target_start": 1, "target_end": 2},
    "max_source_len": MAX_SOURCE_LEN,
    "max_target_len": MAX_TARGET_LEN,
    "name": "date-normaliser",
    "description": ("Character-level date normaliser: '21 Nov 2026', 'Saturday, November 21, "
                    "2026', '21/11/2026', ... (years 1900-2099, any letter case) -> "
                    "'2026-11-21'. Trained with tools/train_date_model.py."),
}


def _num(n, rng, optional_zero=True):
    if n >= 10 or not optional_zero:
        return f"{n:02d}"
    return f"0{n}" if rng.random() < 0.5 else str(n)


def format_date(date, fmt, rng):
    """The input text of `date` in format `fmt`, in title case."""
    d = _num(date.day, rng)
    m = _num(date.month, rng)
    y = f"{date.year:04d}"
    month, mon = MONTHS[date.month - 1], MONTHS[date.month - 1][:3]
    weekday = WEEKDAYS[date.weekday()]
    return {
        "D Month YYYY": f"{d} {month} {y}",
        "D Mon YYYY": f"{d} {mon} {y}",
        "Month D, YYYY": f"{month} {d}, {y}",
        "Mon D, YYYY": f"{mon} {d}, {y}",
        "Mon D YYYY": f"{mon} {d} {y}",
        "D/M/YYYY": f"{d}/{m}/{y}",
        "YYYY-MM-DD": date.isoformat(),
        "Weekday, D Month YYYY": f"{weekday}, {d} {month} {y}",
        "Weekday, Month D, YYYY": f"{weekday}, {month} {d}, {y}",
        "D.M.YYYY": f"{d}.{m}.{y}",
    }[fmt]


def apply_case(text, case, rng):
    if case == "lower":
        return text.lower()
    if case == "upper":
        return text.upper()
    if case == "mixed":
        return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in text)
    return text  # title: as format_date writes it


def random_date(rng):
    return datetime.date.fromordinal(rng.randint(FIRST_DAY, LAST_DAY))


def make_examples(n, seed, exclude=frozenset(), stratified=False):
    """n (input, output, date) triples. stratified: formats and cases in turn,
    so a held-out set covers each (format, case) pair equally."""
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        date = random_date(rng)
        if date in exclude:
            continue
        if stratified:
            fmt = FORMATS[len(out) % len(FORMATS)]
            case = CASES[(len(out) // len(FORMATS)) % len(CASES)]
        else:
            fmt = rng.choice(FORMATS)
            case = rng.choices(CASES, weights=[3, 3, 2, 2])[0]
        out.append((apply_case(format_date(date, fmt, rng), case, rng), date.isoformat(), date))
    return out


def encode_source(text, config=CONFIG):
    """Source token ids of `text`, as the library tokenises it (docs/model-format.md):
    ASCII lower-casing when the config says so, one token per character, unknown
    characters to source_unk."""
    if config["lowercase_source"]:
        text = "".join(c.lower() if "A" <= c <= "Z" else c for c in text)
    vocab = {tok: i for i, tok in enumerate(config["source_vocab"])}
    unk = config["special_tokens"]["source_unk"]
    return [vocab.get(c, unk) for c in text]


def encode_target(text, config=CONFIG):
    vocab = {tok: i for i, tok in enumerate(config["target_vocab"])}
    return [vocab[c] for c in text]


def decode_target(ids, config=CONFIG):
    return "".join(config["target_vocab"][i] for i in ids)


def tensors_for(examples, config=CONFIG):
    """(src [n, max_source_len], tgt_in [n, Td], tgt_out [n, Td]) int32: sources
    padded after their tokens with source_pad; tgt_in is start + target, tgt_out
    target + end (every target here has the same length, 10 characters)."""
    pad = config["special_tokens"]["source_pad"]
    src = np.full((len(examples), config["max_source_len"]), pad, dtype=np.int32)
    for i, (x, _, _) in enumerate(examples):
        ids = encode_source(x, config)
        src[i, :len(ids)] = ids
    start, end = config["special_tokens"]["target_start"], config["special_tokens"]["target_end"]
    tgt = [encode_target(y, config) for _, y, _ in examples]
    tgt_in = np.array([[start] + t for t in tgt], dtype=np.int32)
    tgt_out = np.array([t + [end] for t in tgt], dtype=np.int32)
    return src, tgt_in, tgt_out


def make_splits(train_examples, heldout_examples=2000, validation_examples=2000):
    """(train, validation, heldout) as tools/train_date_model.py draws them: the
    held-out set first (stratified, seed 99; tests/fixtures/date_heldout.tsv),
    the validation set without the held-out dates, the training set without
    either's dates."""
    heldout = make_examples(heldout_examples, SEEDS["heldout"], stratified=True)
    validation = make_examples(validation_examples, SEEDS["validation"],
                               exclude={d for _, _, d in heldout}, stratified=True)
    excluded = {d for _, _, d in heldout} | {d for _, _, d in validation}
    train = make_examples(train_examples, SEEDS["train"], exclude=excluded)
    return train, validation, heldout


def write_heldout(path, examples):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for x, y, _ in examples:
            f.write(f"{x}\t{y}\n")
