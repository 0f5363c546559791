"""Trains the default seqattn model: a character-level date normaliser.

    python tools/train_date_model.py            # train, export, write the held-out set

Writes models/date_model.safetensors, models/README.md and
tests/fixtures/date_heldout.tsv. Everything is generated here from fixed seeds
(no data set is downloaded); see tools/README.md for the conventions.

Input conventions (the generator, the validation set and the held-out set all
follow them; letter case is free: Title, lower, UPPER or a random mix):

    format                         example                        day / month digits
    D Month YYYY                   21 November 2026               day: leading zero optional
    D Mon YYYY                     21 Nov 2026                    day: leading zero optional
    Month D, YYYY                  November 21, 2026              day: leading zero optional
    Mon D, YYYY                    Nov 21, 2026                   day: leading zero optional
    Mon D YYYY                     Nov 21 2026                    day: leading zero optional
    D/M/YYYY                       21/11/2026, 1/3/2026           day and month: leading zero optional
    YYYY-MM-DD                     2026-11-21                     always two digits (ISO 8601)
    Weekday, D Month YYYY          Saturday, 21 November 2026     day: leading zero optional
    Weekday, Month D, YYYY         Saturday, November 21, 2026    day: leading zero optional
    D.M.YYYY                       21.11.2026, 1.3.2026           day and month: leading zero optional

"Leading zero optional": a day or month below 10 is written with a leading zero
in half of the samples ("1 March" and "01 March", "1/3/2026" and "01/03/2026"),
drawn independently for the day and the month. Years 1900-2099, dates drawn
uniformly; weekdays are the true weekday of the date; abbreviations are the
three-letter English ones (Sep, not Sept). The output is always YYYY-MM-DD.
"""

import argparse
import datetime
import json
import os
import random
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import seq2seq_keras as sk  # noqa: E402  (sets KERAS_BACKEND=jax before keras loads)
import keras  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
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


def tensors_for(examples, config=CONFIG):
    src = sk.pad_batch([sk.encode_source(x, config) for x, _, _ in examples],
                       config["special_tokens"]["source_pad"], config["max_source_len"])
    start, end = config["special_tokens"]["target_start"], config["special_tokens"]["target_end"]
    tgt = [sk.encode_target(y, config) for _, y, _ in examples]
    tgt_in = np.array([[start] + t for t in tgt], dtype=np.int32)
    tgt_out = np.array([t + [end] for t in tgt], dtype=np.int32)
    return src, tgt_in, tgt_out


def exact_match(model, examples, config=CONFIG):
    src, _, _ = tensors_for(examples, config)
    got = [sk.decode_target(ids, config) for ids in sk.greedy_decode(model, src, config)]
    wrong = [(x, y, g) for (x, y, _), g in zip(examples, got) if g != y]
    return 1 - len(wrong) / len(examples), wrong


def write_heldout(path, examples):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for x, y, _ in examples:
            f.write(f"{x}\t{y}\n")


def write_model_readme(path, stats):
    text = f"""# models/

## date_model.safetensors — the default model

A character-level date normaliser, the model the `seqattn` CLI embeds and uses
when no `--model` is given. It reads a date written in one of ten formats, in
any letter case, with years 1900–2099, and writes it as `YYYY-MM-DD`:

| input | output |
|---|---|
| `21 November 2026`, `21 Nov 2026`, `01 nov 2026` | `2026-11-21`, `2026-11-21`, `2026-11-01` |
| `November 21, 2026`, `Nov 21, 2026`, `Nov 21 2026` | `2026-11-21` |
| `21/11/2026`, `1/3/2026`, `21.11.2026`, `2026-11-21` | `2026-11-21`, `2026-03-01`, … |
| `Saturday, 21 November 2026`, `SATURDAY, NOVEMBER 21, 2026` | `2026-11-21` |

The exact input conventions (which numbers may carry a leading zero, letter
case) are in the docstring of `tools/train_date_model.py`.

File format: `docs/model-format.md` (format version 1).

| | |
|---|---|
| architecture | char Embedding({CONFIG['encoder']['embedding_dim']}, mask_zero) → Bidirectional GRU({CONFIG['encoder']['units']}) (concat) → decoder GRU({CONFIG['decoder']['units']}) over Embedding({CONFIG['decoder']['embedding_dim']}) targets, initial state = concat of the encoder's final states → additive attention ({CONFIG['attention']['units']} units, no bias) → Dense({len(TARGET_VOCAB)}, softmax) over concat[decoder, context] |
| GRU variant | `{CONFIG['gru_variant']}` (Keras default) |
| vocabularies | source {len(SOURCE_VOCAB)} tokens (the source is lower-cased first), target {len(TARGET_VOCAB)} |
| parameters | {stats['parameters']:,} ({stats['model_bytes']:,} bytes as float32 safetensors) |
| training data | {stats['train_examples']:,} synthetic examples (seed {SEEDS['train']}), formats and cases drawn at random; the dates of the validation and held-out sets are excluded |
| training | Adam (clipnorm 1.0), batch {stats['batch_size']}, learning rate {stats['learning_rate']} halved when the validation exact match stalls, teacher forcing, sparse categorical cross-entropy; {stats['epochs']} epochs, stopped when the validation set (2,000 examples, seed {SEEDS['validation']}) reached 100% or the epoch limit was hit |
| training time | {stats['train_seconds']:.0f} s wall clock on {stats['cpu']} CPU cores shared with other jobs (Keras {stats['versions']['keras_version']}, JAX {stats['versions']['jax_version']} backend) |
| held-out exact match | **{stats['heldout_accuracy']:.2%}** of {stats['heldout_examples']:,} (`tests/fixtures/date_heldout.tsv`, seed {SEEDS['heldout']}, each of the 10 formats × 4 letter cases equally; greedy decoding by Keras) |

To reproduce (about {max(1, round(stats['train_seconds'] / 60))} minutes on 2 cores; the seeds are fixed, and a
rerun with the pinned versions writes a byte-identical model file):

    pip install -r tools/requirements.txt
    KERAS_BACKEND=jax python tools/train_date_model.py
    python tools/numpy_forward.py --heldout      # the same accuracy, from the exported file

The C++ tests translate `tests/fixtures/date_heldout.tsv` with this file and
require at least 99% exact matches.
"""
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--train-examples", type=int, default=60000)
    ap.add_argument("--epochs", type=int, default=14)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--learning-rate", type=float, default=3e-3)
    ap.add_argument("--heldout-examples", type=int, default=2000)
    ap.add_argument("--models-dir", default=os.path.join(ROOT, "models"))
    ap.add_argument("--fixtures-dir", default=os.path.join(ROOT, "tests", "fixtures"))
    args = ap.parse_args()

    keras.utils.set_random_seed(SEEDS["init"])
    heldout = make_examples(args.heldout_examples, SEEDS["heldout"], stratified=True)
    validation = make_examples(2000, SEEDS["validation"], exclude={d for _, _, d in heldout},
                               stratified=True)
    excluded = {d for _, _, d in heldout} | {d for _, _, d in validation}
    train = make_examples(args.train_examples, SEEDS["train"], exclude=excluded)
    write_heldout(os.path.join(args.fixtures_dir, "date_heldout.tsv"), heldout)

    src, tgt_in, tgt_out = tensors_for(train)
    model, _, layers = sk.build_model(CONFIG)
    optimizer = keras.optimizers.Adam(args.learning_rate, clipnorm=1.0)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    model.summary()

    start = time.time()
    best, stall, epochs = -1.0, 0, 0
    for epoch in range(args.epochs):
        hist = model.fit([src, tgt_in], tgt_out, batch_size=args.batch_size, epochs=1,
                         shuffle=True, verbose=0)
        epochs = epoch + 1
        acc, wrong = exact_match(model, validation)
        print(f"epoch {epochs}: loss {hist.history['loss'][-1]:.5f}, validation exact match "
              f"{acc:.2%} ({len(wrong)} wrong), {time.time() - start:.0f} s", flush=True)
        if acc >= 1.0:
            break
        if acc <= best:
            stall += 1
            if stall >= 2:  # halve the learning rate when validation stalls
                optimizer.learning_rate.assign(float(optimizer.learning_rate) / 2)
                stall = 0
        best = max(best, acc)
    train_seconds = time.time() - start

    acc, wrong = exact_match(model, heldout)
    print(f"held-out exact match (Keras greedy decoding): {acc:.4%} of {len(heldout)}")
    for x, y, g in wrong[:20]:
        print(f"  {x!r}: expected {y!r}, got {g!r}")

    os.makedirs(args.models_dir, exist_ok=True)
    path = os.path.join(args.models_dir, "date_model.safetensors")
    stats = {"train_examples": len(train), "epochs": epochs, "batch_size": args.batch_size,
             "learning_rate": args.learning_rate, "train_seconds": train_seconds,
             "heldout_accuracy": acc, "heldout_examples": len(heldout),
             "parameters": model.count_params(), "cpu": os.cpu_count(), "versions": sk.versions()}
    sk.export_model(path, CONFIG, layers, extra_metadata={
        "training": json.dumps({k: stats[k] for k in ("train_examples", "epochs", "batch_size",
                                                       "learning_rate", "heldout_accuracy",
                                                       "heldout_examples")})})
    stats["model_bytes"] = os.path.getsize(path)
    write_model_readme(os.path.join(args.models_dir, "README.md"), stats)
    print(f"wrote {path} ({stats['model_bytes']:,} bytes), training {train_seconds:.0f} s")
    return 0 if acc >= 0.995 else 1


if __name__ == "__main__":
    sys.exit(main())
