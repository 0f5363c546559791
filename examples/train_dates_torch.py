"""Trains the date normaliser from scratch in PyTorch on the CPU, exports it as
a seqattn model file, and translates the held-out dates with the `seqattn` CLI.

    cmake -S . -B build/cpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DSEQATTN_ENABLE_CUDA=OFF
    cmake --build build/cpu --target seqattn seqattn_cli
    SEQATTN_LIBRARY=build/cpu/libseqattn.so python3 examples/train_dates_torch.py \\
        --impl seqattn --out date_model_torch.safetensors --cli build/cpu/apps/seqattn

The architecture is the default model's (models/README.md): char Embedding(32,
mask_zero) -> Bidirectional GRU(64) -> decoder GRU(128) over Embedding(32)
targets, initial state concat[forward final, backward final] -> additive
attention (64 units, no bias) from every decoder output over the encoder
outputs -> Dense(14, softmax) over concat[decoder, context]; GRU reset_after.
The weights are kept in the model file's (Keras') layout from the start
(kernel [I, 3H] with gate blocks z, r, h; recurrent_kernel [H, 3H]; bias
[2, 3H]), so the export is a rename, not a conversion.

--impl seqattn runs the GRUs, the attention and the output layer through
seqattn.torch, whose functions are torch autograd functions (the library's
forward and backward passes on the CPU); only the embeddings, the loss and
the optimiser are torch's. --impl torch writes the same math in plain torch
ops, as a check of the seqattn path and to compare the two.

The data are tools/date_data.py's: the same generator and seeds as
tools/train_date_model.py, so the held-out dates (tests/fixtures/
date_heldout.tsv) are never trained on. Training stops when the validation
set (2,000 dates, greedy decoding) is decoded 100% right, or after --epochs.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "python"))

import date_data  # noqa: E402
from seqattn.convert import write_safetensors  # noqa: E402  (no library needed to write)


# ------------------------------------------------------------------- the ops


class TorchOps:
    """The model's layers in plain torch ops, written from docs/math.md."""

    name = "torch"

    @staticmethod
    def gru(x, kernel, recurrent_kernel, bias, *, lengths, reverse=False, h0=None):
        """Keras-layout reset_after GRU over x [B, T, I]: steps t < lengths[b]
        (from L-1 down to 0 when reverse) update the state, outputs past the
        length are 0. Returns (outputs [B, T, H], h_last [B, H])."""
        B, T, _ = x.shape
        H = recurrent_kernel.shape[0]
        xp = x @ kernel + bias[0]  # [B, T, 3H]: the input half of every step at once
        h = x.new_zeros(B, H) if h0 is None else h0
        valid = (torch.arange(T)[None, :] < lengths[:, None]).to(x.dtype)  # [B, T]
        outputs = [None] * T
        for t in (range(T - 1, -1, -1) if reverse else range(T)):
            xz, xr, xh = xp[:, t].chunk(3, dim=-1)
            hz, hr, hh = (h @ recurrent_kernel + bias[1]).chunk(3, dim=-1)
            z = torch.sigmoid(xz + hz)
            r = torch.sigmoid(xr + hr)
            c = torch.tanh(xh + r * hh)
            m = valid[:, t:t + 1]
            new = m * (z * h + (1 - z) * c)
            h = new + (1 - m) * h  # a masked step carries the state
            outputs[t] = new
        return torch.stack(outputs, dim=1), h

    @staticmethod
    def attention(h, s, W, U, v, *, enc_lengths):
        """context [B, Td, He] of additive attention from s [B, Td, Hd] over h [B, Te, He]."""
        keys, queries = h @ W, s @ U  # [B, Te, A], [B, Td, A]
        e = (torch.tanh(keys[:, None, :, :] + queries[:, :, None, :]) * v).sum(-1)  # [B, Td, Te]
        valid = torch.arange(h.shape[1])[None, :] < enc_lengths[:, None]  # [B, Te]
        w = torch.softmax(e.masked_fill(~valid[:, None, :], float("-inf")), dim=-1)
        return w @ h

    @staticmethod
    def dense(x, W, b):
        return x @ W + b


class SeqattnOps:
    """The same layers through seqattn.torch (library forward and backward)."""

    name = "seqattn"

    def __init__(self):
        import seqattn.torch as st

        self.st = st

    def gru(self, x, kernel, recurrent_kernel, bias, *, lengths, reverse=False, h0=None):
        return self.st.gru(x.contiguous(), kernel, recurrent_kernel, bias, variant="reset_after",
                           reverse=reverse, lengths=lengths, h0=h0)

    def attention(self, h, s, W, U, v, *, enc_lengths):
        return self.st.additive_attention(h.contiguous(), s.contiguous(), W, U, v,
                                          enc_lengths=enc_lengths, return_weights=False)

    def dense(self, x, W, b):
        return self.st.dense(x.contiguous(), W, b)


# ------------------------------------------------------------------- the model


def _glorot(rows, cols):
    limit = (6.0 / (rows + cols)) ** 0.5
    return nn.Parameter(torch.empty(rows, cols).uniform_(-limit, limit))


def _orthogonal(rows, cols):
    return nn.Parameter(nn.init.orthogonal_(torch.empty(rows, cols)))


class DateModel(nn.Module):
    """The parameters under the model file's names (docs/model-format.md),
    initialised as Keras initialises its layers."""

    def __init__(self, config, ops):
        super().__init__()
        enc, dec, att = config["encoder"], config["decoder"], config["attention"]
        vs, vt = len(config["source_vocab"]), len(config["target_vocab"])
        H, Hd, A = enc["units"], dec["units"], att["units"]
        He = 2 * H
        self.ops = ops
        self.p = {  # the file's tensor names; registered below with "_" for "."
            "encoder.embedding": nn.Parameter(torch.empty(vs, enc["embedding_dim"])
                                              .uniform_(-0.05, 0.05)),
            "decoder.embedding": nn.Parameter(torch.empty(vt, dec["embedding_dim"])
                                              .uniform_(-0.05, 0.05)),
            "attention.W": _glorot(He, A),
            "attention.U": _glorot(Hd, A),
            "attention.v": nn.Parameter(torch.empty(A).uniform_(-0.1, 0.1)),
            "output.kernel": _glorot(Hd + He, vt),
            "output.bias": nn.Parameter(torch.zeros(vt)),
        }
        for prefix, inputs, units in (("encoder.forward", enc["embedding_dim"], H),
                                      ("encoder.backward", enc["embedding_dim"], H),
                                      ("decoder", dec["embedding_dim"], Hd)):
            self.p[prefix + ".kernel"] = _glorot(inputs, 3 * units)
            self.p[prefix + ".recurrent_kernel"] = _orthogonal(units, 3 * units)
            self.p[prefix + ".bias"] = nn.Parameter(torch.zeros(2, 3 * units))
        for name, param in self.p.items():
            self.register_parameter(name.replace(".", "_"), param)

    def gru(self, prefix, x, **kw):
        p = self.p
        return self.ops.gru(x, p[prefix + ".kernel"], p[prefix + ".recurrent_kernel"],
                            p[prefix + ".bias"], **kw)

    def encode(self, src, lengths):
        """src [B, Ts] (padded after each row's lengths[b] tokens) -> h [B, Ts, 2H], state [B, 2H]."""
        x = F.embedding(src, self.p["encoder.embedding"])
        hf, sf = self.gru("encoder.forward", x, lengths=lengths)
        hb, sb = self.gru("encoder.backward", x, lengths=lengths, reverse=True)
        return torch.cat([hf, hb], dim=-1), torch.cat([sf, sb], dim=-1)

    def decode(self, h, lengths, tgt_in, state):
        """Logits [B, Td, Vt] for decoder inputs tgt_in [B, Td]; also the last state."""
        y = F.embedding(tgt_in, self.p["decoder.embedding"])
        full = torch.full((tgt_in.shape[0],), tgt_in.shape[1], dtype=lengths.dtype)
        s, last = self.gru("decoder", y, lengths=full, h0=state)
        context = self.ops.attention(h, s, self.p["attention.W"], self.p["attention.U"],
                                     self.p["attention.v"], enc_lengths=lengths)
        logits = self.ops.dense(torch.cat([s, context], dim=-1), self.p["output.kernel"],
                                self.p["output.bias"])
        return logits, last

    def forward(self, src, lengths, tgt_in):
        h, state = self.encode(src, lengths)
        return self.decode(h, lengths, tgt_in, state)[0]

    @torch.no_grad()
    def greedy(self, src, lengths, config):
        """Greedy decoding as the library does it: start, then each step's
        argmax, a row stopped at end. Returns lists of target ids."""
        sp = config["special_tokens"]
        h, state = self.encode(src, lengths)
        tok = torch.full((src.shape[0], 1), sp["target_start"], dtype=torch.long)
        out = []
        for _ in range(config["max_target_len"]):
            logits, state = self.decode(h, lengths, tok, state)
            tok = logits[:, -1].argmax(-1, keepdim=True)
            out.append(tok)
        rows = []
        for row in torch.cat(out, dim=1).tolist():
            rows.append(row[:row.index(sp["target_end"])] if sp["target_end"] in row else row)
        return rows


# ------------------------------------------------------------------- data, export, CLI


def batch_tensors(examples, config):
    """(src [n, Ts] long, lengths [n] int32, tgt_in, tgt_out [n, Td] long), the
    sources cut to the longest one (pads past every row's length do nothing)."""
    src, tgt_in, tgt_out = date_data.tensors_for(examples, config)
    lengths = (src != config["special_tokens"]["source_pad"]).sum(1).astype(np.int32)
    src = src[:, :max(1, int(lengths.max()))]
    return (torch.from_numpy(src).long(), torch.from_numpy(lengths),
            torch.from_numpy(tgt_in).long(), torch.from_numpy(tgt_out).long())


def exact_match(model, examples, config, batch_size=1000):
    wrong = []
    for lo in range(0, len(examples), batch_size):
        chunk = examples[lo:lo + batch_size]
        src, lengths, _, _ = batch_tensors(chunk, config)
        for (x, y, _), ids in zip(chunk, model.greedy(src, lengths, config)):
            got = date_data.decode_target(ids, config)
            if got != y:
                wrong.append((x, y, got))
    return 1 - len(wrong) / len(examples), wrong


def file_config(config, impl):
    """The config as the file stores it (the documented fields only, as
    tools/seq2seq_keras.py's file_config)."""
    keys = ["encoder", "decoder", "attention", "gru_variant", "tokenization",
            "lowercase_source", "source_vocab", "target_vocab", "special_tokens",
            "max_source_len", "max_target_len", "name", "description"]
    out = {k: config[k] for k in keys}
    out["description"] = (config["description"].replace(
        "Trained with tools/train_date_model.py.",
        f"Trained with examples/train_dates_torch.py --impl {impl}."))
    return out


def export(path, model, config, impl, training):
    tensors = {name: p.detach().numpy().astype(np.float32) for name, p in model.p.items()}
    metadata = {"format": "seqattn.seq2seq", "format_version": "1",
                "config": json.dumps(file_config(config, impl), separators=(",", ":")),
                "torch_version": torch.__version__, "numpy_version": np.__version__,
                "training": json.dumps(training, separators=(",", ":"))}
    write_safetensors(path, tensors, metadata)


def find_cli(given):
    if given:
        return given
    for build in ("dev", "cpu", "release"):
        candidate = ROOT / "build" / build / "apps" / "seqattn"
        if candidate.is_file():
            return str(candidate)
    return shutil.which("seqattn")


def cli_exact_match(cli, model_path, heldout_path):
    """Translates the sources of heldout_path (TSV: input, expected) with
    `seqattn translate --model model_path -` and compares line by line."""
    pairs = [line.rstrip("\n").split("\t") for line in
             open(heldout_path, encoding="utf-8") if line.strip()]
    stdin = "".join(x + "\n" for x, _ in pairs)
    start = time.time()
    run = subprocess.run([cli, "translate", "--model", str(model_path), "-"], input=stdin,
                         capture_output=True, text=True, check=True)
    seconds = time.time() - start
    got = run.stdout.split("\n")[:-1]
    if len(got) != len(pairs):
        raise RuntimeError(f"{cli} printed {len(got)} lines for {len(pairs)} inputs")
    wrong = [(x, y, g) for (x, y), g in zip(pairs, got) if g != y]
    return 1 - len(wrong) / len(pairs), wrong, len(pairs), seconds


# ------------------------------------------------------------------- training


def clip_each(params, max_norm):
    """Keras' clipnorm: each gradient rescaled to norm <= max_norm on its own."""
    for p in params:
        if p.grad is not None:
            norm = p.grad.norm()
            if norm > max_norm:
                p.grad.mul_(max_norm / norm)


def train(args, log=print):
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    config = date_data.CONFIG
    ops = SeqattnOps() if args.impl == "seqattn" else TorchOps()
    train_set, validation, heldout = date_data.make_splits(args.train_examples)
    validation = validation[:args.validation_examples]
    model = DateModel(config, ops)
    params = list(model.parameters())
    optimizer = torch.optim.Adam(params, lr=args.learning_rate, eps=1e-7)  # Keras' epsilon
    order = torch.Generator().manual_seed(args.seed)
    log(f"{args.impl}: {sum(p.numel() for p in params):,} parameters, {len(train_set):,} "
        f"training examples, batch {args.batch_size}, {args.threads} thread(s)")

    start = time.time()
    losses, steps, best, stall, accuracy, done = [], 0, -1.0, 0, 0.0, False

    def validate(where):
        # Greedy decoding of the validation set; the learning rate is halved
        # when it stalls twice in a row, as tools/train_date_model.py does.
        nonlocal best, stall, accuracy
        accuracy, wrong = exact_match(model, validation, config)
        log(f"{where}: loss {np.mean(losses[-50:]):.4f}, validation exact match "
            f"{accuracy:.2%} ({len(wrong)} wrong), {time.time() - start:.0f} s")
        if accuracy <= best:
            stall += 1
            if stall >= 2:
                for g in optimizer.param_groups:
                    g["lr"] /= 2
                stall = 0
        best = max(best, accuracy)
        return accuracy >= 1.0

    for epoch in range(args.epochs):
        perm = torch.randperm(len(train_set), generator=order).tolist()
        for lo in range(0, len(perm), args.batch_size):
            batch = [train_set[i] for i in perm[lo:lo + args.batch_size]]
            src, lengths, tgt_in, tgt_out = batch_tensors(batch, config)
            logits = model(src, lengths, tgt_in)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            clip_each(params, args.clipnorm)
            optimizer.step()
            losses.append(loss.item())
            steps += 1
            if args.log_every and steps % args.log_every == 0:
                log(f"  step {steps}: loss {np.mean(losses[-args.log_every:]):.4f}, "
                    f"{time.time() - start:.0f} s")
            if args.max_steps and steps >= args.max_steps:
                done = True
                break
            if validation and args.eval_every and steps % args.eval_every == 0:
                if validate(f"step {steps}"):
                    done = True
                    break
        if done or (validation and validate(f"epoch {epoch + 1}")):
            break
    if validation and args.max_steps and steps >= args.max_steps:
        validate(f"step {steps}")
    return {"model": model, "config": config, "losses": losses, "steps": steps,
            "epochs": epoch + 1, "seconds": time.time() - start, "validation": accuracy,
            "heldout": heldout, "train_examples": len(train_set)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--impl", choices=["seqattn", "torch"], default="seqattn",
                    help="seqattn: GRU, attention and Dense through seqattn.torch (default); "
                         "torch: the same math in plain torch ops")
    ap.add_argument("--train-examples", type=int, default=30000)
    ap.add_argument("--validation-examples", type=int, default=2000)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many batches")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--learning-rate", type=float, default=3e-3)
    ap.add_argument("--clipnorm", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--eval-every", type=int, default=50,
                    help="decode the validation set every this many batches (and after each "
                         "epoch); training stops when it is decoded 100%% right")
    ap.add_argument("--out", default="date_model_torch.safetensors", help="model file to write")
    ap.add_argument("--cli", help="the seqattn program (default: build/{dev,cpu,release}/apps/"
                                  "seqattn, then PATH)")
    ap.add_argument("--heldout", default=str(ROOT / "tests" / "fixtures" / "date_heldout.tsv"))
    ap.add_argument("--no-cli", action="store_true", help="export only; do not run the CLI")
    args = ap.parse_args(argv)

    result = train(args)
    model, config = result["model"], result["config"]
    training = {"impl": args.impl, "train_examples": result["train_examples"],
                "epochs": result["epochs"], "steps": result["steps"],
                "batch_size": args.batch_size, "learning_rate": args.learning_rate,
                "validation_accuracy": result["validation"]}
    export(args.out, model, config, args.impl, training)
    print(f"wrote {args.out} ({os.path.getsize(args.out):,} bytes) after {result['steps']} steps, "
          f"{result['seconds']:.0f} s of training ({args.impl})")
    if args.no_cli:
        return 0
    cli = find_cli(args.cli)
    if not cli:
        print("no seqattn program found (build the seqattn_cli target or pass --cli)")
        return 2
    accuracy, wrong, n, seconds = cli_exact_match(cli, args.out, args.heldout)
    print(f"{cli} translate: {accuracy:.2%} exact of {n} held-out dates "
          f"({len(wrong)} wrong, {seconds:.1f} s)")
    for x, y, g in wrong[:10]:
        print(f"  {x!r}: expected {y}, got {g}")
    return 0 if accuracy >= 0.99 else 1


if __name__ == "__main__":
    sys.exit(main())
