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
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import seq2seq_keras as sk  # noqa: E402  (sets KERAS_BACKEND=jax before keras loads)
import keras  # noqa: E402
# The generator, seeds, vocabularies and config (keras-free, shared with
# examples/train_dates_torch.py).
from date_data import (CONFIG, SEEDS, SOURCE_VOCAB, TARGET_VOCAB, make_splits,  # noqa: E402
                       tensors_for, write_heldout)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def exact_match(model, examples, config=CONFIG):
    src, _, _ = tensors_for(examples, config)
    got = [sk.decode_target(ids, config) for ids in sk.greedy_decode(model, src, config)]
    wrong = [(x, y, g) for (x, y, _), g in zip(examples, got) if g != y]
    return 1 - len(wrong) / len(examples), wrong


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
    train, validation, heldout = make_splits(args.train_examples, args.heldout_examples)
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
