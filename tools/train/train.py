#!/usr/bin/env python3
"""Train the embedded Shakespeare model: a SentencePiece BPE vocabulary and a
small Llama (RMSNorm, adjacent-pair RoPE, GQA, SwiGLU, tied output) on
tinyshakespeare, holding out the last 10% of the text for validation.

Everything the GGUF exporter needs lands in --out:
  weights.bin      tensors back to back (matrices fp16, norms fp32), little-endian
  manifest.json    model config, tensor table (name, torch shape, dtype, offset), losses, recipe
  vocab.json       pieces, scores, llama.cpp token types, special ids
  tokenizer.model  the SentencePiece model itself
  tokcheck.json    strings and the ids llama.cpp must give them (for tokenizer tests)
  reference.json   prompt ids, greedy continuation and last logits from PyTorch
  train.log        everything printed

Tokenization follows llama.cpp exactly: a GGUF "llama" vocab prepends one
space to the text (add_space_prefix) and no piece holds a newline, so a text
tokenizes as encode(" " + first_line) <0x0A> encode(line2) <0x0A> ...  The
SentencePiece model is trained WITHOUT the dummy prefix so that its pieces
match that stream (words at line starts carry no "▁" there); the dummy prefix
is applied by hand (" " + text).  Every training window starts at a line
start, as a prompt does: [BOS] encode(" " + line_i) <0x0A> encode(line_i+1) ...
"""
import argparse
import io
import json
import math
import os
import sys
import time

import numpy as np
import sentencepiece as spm
import torch
import torch.nn as nn
import torch.nn.functional as F

LOG = io.StringIO()


def log(*args):
    line = " ".join(str(a) for a in args)
    print(line, flush=True)
    LOG.write(line + "\n")


# ---------------------------------------------------------------- tokenizer

def train_tokenizer(train_text, vocab_size, workdir):
    lines = [l for l in train_text.split("\n") if l]
    prefix = os.path.join(workdir, f"spm{vocab_size}")
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_prefix=prefix,
        model_type="bpe",
        vocab_size=vocab_size,
        byte_fallback=True,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        unk_piece="<unk>", bos_piece="<s>", eos_piece="</s>",
        # The dummy prefix is added by hand when encoding, see the module doc.
        add_dummy_prefix=False,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        split_digits=True,
        allow_whitespace_only_pieces=True,
        character_coverage=1.0,
        max_sentencepiece_length=16,
        num_threads=os.cpu_count() or 4,
        minloglevel=2,
    )
    return spm.SentencePieceProcessor(model_file=prefix + ".model"), prefix + ".model"


def vocab_table(sp):
    """Pieces, scores and llama.cpp token types (1 normal, 2 unknown, 3 control, 5 unused, 6 byte)."""
    pieces, scores, types = [], [], []
    for i in range(sp.get_piece_size()):
        pieces.append(sp.id_to_piece(i))
        scores.append(float(sp.get_score(i)))
        if sp.is_unknown(i):
            types.append(2)
        elif sp.is_control(i):
            types.append(3)
        elif sp.is_byte(i):
            types.append(6)
        elif sp.is_unused(i):
            types.append(5)
        else:
            types.append(1)
    return pieces, scores, types


def llama_encode(sp, text):
    """Token ids llama.cpp gives `text` (without BOS): the space prefix, then SentencePiece BPE."""
    return sp.encode(" " + text) if text else []


def char_lengths(pieces, types):
    """Characters of source text each token stands for (the corpus is ASCII)."""
    out = np.zeros(len(pieces), dtype=np.int64)
    for i, (p, t) in enumerate(zip(pieces, types)):
        if t == 6:
            out[i] = 1
        elif t == 1:
            out[i] = len(p.replace("\u2581", " "))
    return out


class Split:
    """One part of the corpus as llama.cpp tokenizes it, indexed by line start."""

    def __init__(self, sp, text):
        self.nl = sp.piece_to_id("<0x0A>")
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()  # text ends with a newline
        plain = sp.encode(lines)                      # line as it appears after a newline
        spaced = sp.encode([" " + l for l in lines])  # line as the first of a prompt
        stream, offs = [], []
        for ids in plain:
            offs.append(len(stream))
            stream.extend(ids)
            stream.append(self.nl)
        if not text.endswith("\n") and stream:
            stream.pop()  # no newline after the last line
        self.stream = np.array(stream, dtype=np.int64)
        self.offs = np.array(offs, dtype=np.int64)
        self.plain_len = np.array([len(p) for p in plain], dtype=np.int64)
        self.spaced = spaced
        self.nonempty = [i for i, l in enumerate(lines) if l]
        self.lines = lines
        # The stream must be what the tokenizer gives the whole text: no piece
        # may straddle a newline, or per-line encoding would be wrong.
        whole = llama_encode(sp, text)
        expect = spaced[0] + stream[len(plain[0]):]
        assert whole == expect, "per-line encoding differs from whole-text encoding"

    def window(self, i, n):
        """[BOS] encode(" " + line_i) <0x0A> line_i+1 ... : up to n tokens, and how many are real."""
        head = [1] + self.spaced[i]
        rest_from = self.offs[i] + self.plain_len[i]
        rest = self.stream[rest_from: rest_from + max(0, n - len(head))]
        seq = np.concatenate([np.array(head, dtype=np.int64), rest])[:n]
        return seq, int(rest_from + max(0, n - len(head)))


def train_windows(split, n):
    rows = []
    for i in split.nonempty:
        seq, _ = split.window(i, n)
        if len(seq) == n:
            rows.append(seq)
    return np.stack(rows)


def val_windows(split, n):
    """Disjoint windows covering the validation text, each starting at a line start."""
    rows, masks, i = [], [], 0
    starts = split.nonempty
    k = 0
    while k < len(starts):
        i = starts[k]
        seq, end = split.window(i, n)
        mask = np.ones(n - 1, dtype=bool)
        if len(seq) < n:
            mask[len(seq) - 1:] = False
            seq = np.concatenate([seq, np.zeros(n - len(seq), dtype=np.int64)])
        rows.append(seq)
        masks.append(mask)
        while k < len(starts) and split.offs[starts[k]] < end:
            k += 1
    return np.stack(rows), np.stack(masks)


# ---------------------------------------------------------------- model

class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        xf = x.float()
        y = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return (y * self.weight).type_as(x)


def rope_tables(head_dim, n_ctx, base):
    inv = base ** (-torch.arange(0, head_dim, 2).float() / head_dim)
    ang = torch.outer(torch.arange(n_ctx).float(), inv)  # [T, D/2]
    return torch.cos(ang), torch.sin(ang)


def apply_rope(x, cos, sin):
    """Rotate ADJACENT pairs (x[2i], x[2i+1]) as llama.cpp's normal rope mode does."""
    T = x.shape[1]
    xf = x.float().reshape(*x.shape[:-1], -1, 2)
    a, b = xf[..., 0], xf[..., 1]
    c = cos[:T].view(1, T, 1, -1)
    s = sin[:T].view(1, T, 1, -1)
    out = torch.stack([a * c - b * s, a * s + b * c], dim=-1)
    return out.flatten(-2).type_as(x)


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, hd = cfg["dim"], cfg["head_dim"]
        self.n_head, self.n_kv, self.hd = cfg["n_head"], cfg["n_kv_head"], hd
        self.attn_norm = RMSNorm(d, cfg["norm_eps"])
        self.wq = nn.Linear(d, self.n_head * hd, bias=False)
        self.wk = nn.Linear(d, self.n_kv * hd, bias=False)
        self.wv = nn.Linear(d, self.n_kv * hd, bias=False)
        self.wo = nn.Linear(self.n_head * hd, d, bias=False)
        self.ffn_norm = RMSNorm(d, cfg["norm_eps"])
        self.w_gate = nn.Linear(d, cfg["ffn_dim"], bias=False)
        self.w_up = nn.Linear(d, cfg["ffn_dim"], bias=False)
        self.w_down = nn.Linear(cfg["ffn_dim"], d, bias=False)
        self.drop = cfg["dropout"]

    def forward(self, x, cos, sin):
        B, T, _ = x.shape
        h = self.attn_norm(x)
        q = apply_rope(self.wq(h).view(B, T, self.n_head, self.hd), cos, sin)
        k = apply_rope(self.wk(h).view(B, T, self.n_kv, self.hd), cos, sin)
        v = self.wv(h).view(B, T, self.n_kv, self.hd)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
        # llama.cpp: query head j reads kv head j // (n_head / n_kv)
        rep = self.n_head // self.n_kv
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        p = self.drop if self.training else 0.0
        if hasattr(F, "scaled_dot_product_attention"):
            a = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
        else:  # old torch, CPU smoke tests only
            att = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd)
            mask = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
            att = F.dropout(att.masked_fill(~mask, float("-inf")).softmax(-1), p)
            a = att @ v
        a = a.transpose(1, 2).reshape(B, T, -1)
        x = x + F.dropout(self.wo(a), p)
        h = self.ffn_norm(x)
        x = x + F.dropout(self.w_down(F.silu(self.w_gate(h)) * self.w_up(h)), p)
        return x


class Llama(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.tok = nn.Embedding(cfg["vocab_size"], cfg["dim"])
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg["n_layer"]))
        self.norm = RMSNorm(cfg["dim"], cfg["norm_eps"])
        cos, sin = rope_tables(cfg["head_dim"], cfg["n_ctx"], cfg["rope_base"])
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02
                if name.endswith("wo.weight") or name.endswith("w_down.weight"):
                    std = 0.02 / math.sqrt(2 * cfg["n_layer"])
                nn.init.normal_(p, 0.0, std)

    def forward(self, idx):
        x = F.dropout(self.tok(idx), self.cfg["dropout"] if self.training else 0.0)
        for blk in self.blocks:
            x = blk(x, self.cos, self.sin)
        return self.norm(x) @ self.tok.weight.t()  # output tied to token_embd


def n_params(model):
    return sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------- training

def autocast(device):
    if device == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


@torch.no_grad()
def evaluate(model, rows, masks, char_len, device, bs=64):
    """Mean nats per token over unmasked targets, and nats per character."""
    model.eval()
    tot, ntok, nchar = 0.0, 0, 0
    for s in range(0, len(rows), bs):
        x = rows[s:s + bs]
        m = masks[s:s + bs]
        with autocast(device):
            logits = model(x[:, :-1])
        l = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1),
                            reduction="none").view(m.shape)
        tot += float((l * m).sum())
        ntok += int(m.sum())
        # each window's first target carries the dummy-prefix space, which is not corpus text
        nchar += int((char_len[x[:, 1:]] * m).sum()) - len(x)
    model.train()
    return tot / ntok, tot / nchar


def train_one(cfg, data, device, max_steps, deadline, tag):
    torch.manual_seed(cfg["seed"])
    model = Llama(cfg).to(device)
    decay = [p for p in model.parameters() if p.dim() == 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg["weight_decay"]},
                             {"params": other, "weight_decay": 0.0}],
                            lr=cfg["lr"], betas=(0.9, 0.95),
                            **({"fused": True} if device == "cuda" else {}))
    rows, vrows, vmask, char_len = data["train"], data["val"], data["val_mask"], data["char_len"]
    warm, min_lr = cfg["warmup"], cfg["lr"] * 0.1
    best = {"val": float("inf"), "step": 0, "state": None}
    bad, t0 = 0, time.time()
    g = torch.Generator(device=device)
    g.manual_seed(cfg["seed"])
    for step in range(1, max_steps + 1):
        if step <= warm:
            lr = cfg["lr"] * step / warm
        else:
            t = (step - warm) / max(1, max_steps - warm)
            lr = min_lr + 0.5 * (cfg["lr"] - min_lr) * (1 + math.cos(math.pi * t))
        for grp in opt.param_groups:
            grp["lr"] = lr
        idx = torch.randint(len(rows), (cfg["batch"],), device=device, generator=g)
        xb = rows[idx]
        with autocast(device):
            logits = model(xb[:, :-1])
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), xb[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        last = step == max_steps or time.time() > deadline
        if step % cfg["eval_every"] == 0 or last:
            vl, vc = evaluate(model, vrows, vmask, char_len, device)
            mark = ""
            if vl < best["val"]:
                best = {"val": vl, "val_char": vc, "step": step,
                        "state": {k: v.detach().float().cpu().clone() for k, v in model.state_dict().items()}}
                bad, mark = 0, " *"
            else:
                bad += 1
            log(f"[{tag}] step {step:5d} lr {lr:.2e} train(batch) {loss.item():.4f} "
                f"val {vl:.4f} nats/tok {vc:.4f} nats/char  {time.time() - t0:6.1f}s{mark}")
            if bad >= cfg["patience"]:
                log(f"[{tag}] early stop: no val improvement in {bad} evals")
                break
        if last:
            if time.time() > deadline:
                log(f"[{tag}] stopped at the time budget")
            break
    model.load_state_dict(best["state"])
    # train loss of the kept weights, no dropout, on a fixed sample of windows
    sel = torch.arange(0, len(rows), max(1, len(rows) // 256), device=device)[:256]
    tl, tc = evaluate(model, rows[sel], torch.ones(len(sel), rows.shape[1] - 1, dtype=torch.bool, device=device),
                      char_len, device)
    best.update(train=tl, train_char=tc, steps_run=step, seconds=time.time() - t0, params=n_params(model))
    log(f"[{tag}] best step {best['step']}: val {best['val']:.4f} nats/tok, {best['val_char']:.4f} nats/char; "
        f"train {tl:.4f} nats/tok, {tc:.4f} nats/char; {best['params']} params, {best['seconds']:.0f}s")
    return model, best


@torch.no_grad()
def generate(model, ids, n, temperature, seed, stop_at_ctx=True):
    model.eval()
    g = torch.Generator(device=ids.device)
    g.manual_seed(seed)
    out = ids.clone()
    for _ in range(n):
        if stop_at_ctx and out.shape[1] >= model.cfg["n_ctx"]:
            break
        logits = model(out)[:, -1].float()
        if temperature <= 0:
            nxt = logits.argmax(-1, keepdim=True)
        else:
            nxt = torch.multinomial((logits / temperature).softmax(-1), 1, generator=g)
        out = torch.cat([out, nxt], dim=1)
    return out[0].tolist()


def llama_decode(sp, ids):
    text = sp.decode([i for i in ids if i > 2])
    return text[1:] if text.startswith(" ") else text  # llama.cpp drops the prefix space


# ---------------------------------------------------------------- export

GGUF_NAMES = {
    "tok.weight": "token_embd.weight",
    "norm.weight": "output_norm.weight",
}
BLOCK_NAMES = {
    "attn_norm.weight": "attn_norm.weight", "wq.weight": "attn_q.weight", "wk.weight": "attn_k.weight",
    "wv.weight": "attn_v.weight", "wo.weight": "attn_output.weight", "ffn_norm.weight": "ffn_norm.weight",
    "w_gate.weight": "ffn_gate.weight", "w_up.weight": "ffn_up.weight", "w_down.weight": "ffn_down.weight",
}


def gguf_name(torch_name):
    if torch_name in GGUF_NAMES:
        return GGUF_NAMES[torch_name]
    _, n, rest = torch_name.split(".", 2)
    return f"blk.{n}.{BLOCK_NAMES[rest]}"


def write_weights(state, out_dir):
    tensors, off = [], 0
    with open(os.path.join(out_dir, "weights.bin"), "wb") as f:
        for k, v in state.items():
            if k in ("cos", "sin"):
                continue
            dtype = "f16" if v.dim() == 2 else "f32"
            arr = v.detach().float().cpu().numpy().astype("<f2" if dtype == "f16" else "<f4")
            f.write(arr.tobytes())
            tensors.append({"name": gguf_name(k), "torch_name": k, "shape": list(v.shape),
                            "dtype": dtype, "offset": off, "nbytes": arr.nbytes})
            off += arr.nbytes
    return tensors


def rounded_model(model, device):
    """A float32 copy whose matrices hold exactly the fp16 values the GGUF stores."""
    m = Llama(model.cfg).to(device)
    sd = {k: (v.half().float() if v.dim() == 2 else v.float()) for k, v in model.state_dict().items()}
    m.load_state_dict(sd)
    return m.eval()


# ---------------------------------------------------------------- main

SWEEP = [
    # name, vocab, dim, layers, heads, kv heads, ffn, dropout
    # A first sweep (vocab 4096 vs 2048, 6 vs 8 layers, dropout 0.2/0.25) found
    # vocab 2048 best per character and overfitting from about step 700 on.
    ("v2048-d256-l6-p2", 2048, 256, 6, 8, 4, 768, 0.2),
    ("v2048-d256-l6-p3", 2048, 256, 6, 8, 4, 768, 0.3),
    ("v2048-d256-l8-p3", 2048, 256, 8, 8, 4, 768, 0.3),
]


def base_cfg(vocab, dim, layers, heads, kv, ffn, dropout, args):
    return {"vocab_size": vocab, "dim": dim, "n_layer": layers, "n_head": heads, "n_kv_head": kv,
            "head_dim": dim // heads, "ffn_dim": ffn, "n_ctx": args.ctx, "norm_eps": 1e-5,
            "rope_base": 10000.0, "dropout": dropout, "lr": args.lr, "weight_decay": 0.1,
            "batch": args.batch, "warmup": 100, "eval_every": args.eval_every,
            "patience": args.patience, "seed": 1337}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=".train/tinyshakespeare.txt")
    ap.add_argument("--out", default=os.environ.get("OUT", ".train/out"))
    ap.add_argument("--budget", type=float, default=460, help="seconds for all training")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--patience", type=int, default=5)
    ap.add_argument("--only", default="", help="comma-separated sweep names to run")
    ap.add_argument("--smoke", action="store_true", help="tiny CPU run to test the pipeline")
    args = ap.parse_args()
    t_start = time.time()
    deadline = t_start + args.budget
    os.makedirs(args.out, exist_ok=True)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    log(f"torch {torch.__version__}, sentencepiece {spm.__version__}, device {device}"
        + (f" ({torch.cuda.get_device_name(0)})" if device == "cuda" else ""))
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True

    text = open(args.corpus, encoding="utf-8").read()
    cut = text.rfind("\n", 0, int(len(text) * 0.9)) + 1
    train_text, val_text = text[:cut], text[cut:]
    log(f"corpus {len(text)} chars: train {len(train_text)} (first 90%, cut at a line end), val {len(val_text)}")

    sweep = SWEEP
    if args.smoke:
        sweep = [("smoke", 512, 64, 2, 4, 2, 192, 0.1)]
        args.ctx, args.batch = 64, 8
    if args.only:
        sweep = [s for s in sweep if s[0] in args.only.split(",")]

    tok = {}
    for vocab in sorted({s[1] for s in sweep}):
        t0 = time.time()
        sp, path = train_tokenizer(train_text, vocab, "/tmp")
        pieces, scores, types = vocab_table(sp)
        tr, va = Split(sp, train_text), Split(sp, val_text)
        char_len = np.asarray(char_lengths(pieces, types))
        rows = train_windows(tr, args.ctx + 1)
        vrows, vmask = val_windows(va, args.ctx + 1)
        tok[vocab] = {
            "sp": sp, "path": path, "pieces": pieces, "scores": scores, "types": types,
            "data": {"train": torch.tensor(rows, device=device), "val": torch.tensor(vrows, device=device),
                     "val_mask": torch.tensor(vmask, device=device),
                     "char_len": torch.tensor(char_len, device=device)},
            "stats": {"train_tokens": len(tr.stream), "val_tokens": len(va.stream),
                      "train_chars_per_token": len(train_text) / len(tr.stream),
                      "val_chars_per_token": len(val_text) / len(va.stream),
                      "train_windows": len(rows), "val_windows": len(vrows)},
        }
        log(f"vocab {vocab}: {tok[vocab]['stats']} ({time.time() - t0:.1f}s)")
        log("  first line as a prompt:", [pieces[i] for i in llama_encode(sp, train_text.split("\n")[0])])

    # Phase A: each candidate with a long cosine horizon, early-stopped on val.
    results = []
    n_runs = len(sweep)
    for k, (name, vocab, dim, layers, heads, kv, ffn, drop) in enumerate(sweep):
        cfg = base_cfg(vocab, dim, layers, heads, kv, ffn, drop, args)
        share = (deadline - time.time()) * (0.75 if n_runs > 1 else 1.0) / (n_runs - k)
        model, best = train_one(cfg, tok[vocab]["data"], device, args.steps, time.time() + share, name)
        results.append({"name": name, "cfg": cfg, "best": best, "model": model, "horizon": args.steps})
        log(f"[{name}] size at f16 matrices: {best['params'] * 2 / 1e6:.1f} MB")

    # Prefer the smaller model unless the bigger one is clearly better per character.
    results.sort(key=lambda r: r["best"]["val_char"])
    choice = results[0]
    for r in results[1:]:
        if r["best"]["params"] < choice["best"]["params"] and r["best"]["val_char"] - choice["best"]["val_char"] < 0.01:
            choice = r
    log(f"chosen after sweep: {choice['name']} (val {choice['best']['val_char']:.4f} nats/char)")

    # Phase B: retrain the choice with the cosine ending near its best step,
    # so the learning rate is low where the validation loss bottoms out.
    remaining = deadline - time.time()
    horizon = int(choice["best"]["step"] * 1.2) + 100
    if n_runs > 1 and remaining > 30:
        cfg = dict(choice["cfg"])
        cfg["patience"] = 1000
        model, best = train_one(cfg, tok[cfg["vocab_size"]]["data"], device, horizon, deadline, choice["name"] + "-B")
        log(f"phase B ({horizon} steps): val {best['val_char']:.4f} nats/char vs phase A {choice['best']['val_char']:.4f}")
        if best["val"] < choice["best"]["val"]:
            choice = {"name": choice["name"] + "-B", "cfg": cfg, "best": best, "model": model, "horizon": horizon}
    log(f"shipping {choice['name']}: step {choice['best']['step']}, val {choice['best']['val']:.4f} nats/tok "
        f"{choice['best']['val_char']:.4f} nats/char, train {choice['best']['train']:.4f} nats/tok")

    # ---- outputs
    model, cfg, best = choice["model"], choice["cfg"], choice["best"]
    t = tok[cfg["vocab_size"]]
    sp = t["sp"]
    tensors = write_weights({k: v for k, v in model.state_dict().items()}, args.out)
    with open(t["path"], "rb") as f_in, open(os.path.join(args.out, "tokenizer.model"), "wb") as f_out:
        f_out.write(f_in.read())
    with open(os.path.join(args.out, "vocab.json"), "w") as f:
        json.dump({"pieces": t["pieces"], "scores": t["scores"], "types": t["types"],
                   "unk_id": 0, "bos_id": 1, "eos_id": 2, "add_space_prefix": True}, f)

    rm = rounded_model(model, device)
    samples = {}
    for prompt in ["ROMEO:", "First Citizen:\n", ""]:
        ids = torch.tensor([[1] + llama_encode(sp, prompt)], device=device)
        for temp in (0.0, 0.8):
            out = generate(rm, ids, 200, temp, seed=42)
            samples[f"{prompt!r} T={temp}"] = llama_decode(sp, out)
    for k, v in samples.items():
        log(f"---- sample {k}\n{v}\n")

    prompt_ids = [1] + llama_encode(sp, "ROMEO:")
    x = torch.tensor([prompt_ids], device=device)
    with torch.no_grad():
        last_logits = rm(x)[0, -1].float().cpu().tolist()
    greedy = generate(rm, x, 64, 0.0, seed=0)
    with open(os.path.join(args.out, "reference.json"), "w") as f:
        json.dump({"note": "PyTorch float32 with fp16-rounded matrices; greedy continuation of 'ROMEO:'",
                   "prompt": "ROMEO:", "prompt_ids": prompt_ids, "greedy_ids": greedy,
                   "greedy_text": llama_decode(sp, greedy),
                   "last_logits": [round(v, 4) for v in last_logits]}, f)

    checks = ["ROMEO:", "First Citizen:\nBefore we proceed any further, hear me speak.",
              "Hello world", " Hello world", "  two leading spaces", "trailing space ",
              "digits 1234567890 and 3.14", "tabs\tand\nnewlines\n\n", "caf\u00e9 na\u00efve \u2014 \u00fcber \U0001F600",
              "O Romeo, Romeo! wherefore art thou Romeo?", "'Tis but thy name that is my enemy;",
              "KING RICHARD III:\nNow is the winter of our discontent"]
    checks += [l for l in val_text.split("\n")[:40] if l][:20]
    with open(os.path.join(args.out, "tokcheck.json"), "w") as f:
        json.dump({"note": "ids without BOS, as llama.cpp tokenizes with add_space_prefix; "
                           "sentencepiece.encode(' ' + text)",
                   "cases": [{"text": s, "ids": llama_encode(sp, s),
                              "pieces": [t["pieces"][i] for i in llama_encode(sp, s)]} for s in checks]},
                  f, ensure_ascii=False, indent=0)

    manifest = {
        "config": {k: cfg[k] for k in ("vocab_size", "dim", "n_layer", "n_head", "n_kv_head", "head_dim",
                                        "ffn_dim", "n_ctx", "norm_eps", "rope_base")},
        "tensors": tensors,
        "params": best["params"],
        "losses": {"val_nats_per_token": best["val"], "val_nats_per_char": best["val_char"],
                   "train_nats_per_token": best["train"], "train_nats_per_char": best["train_char"],
                   "best_step": best["step"]},
        "recipe": {"name": choice["name"], "dropout": cfg["dropout"], "lr": cfg["lr"],
                   "weight_decay": cfg["weight_decay"], "batch": cfg["batch"], "ctx": cfg["n_ctx"],
                   "warmup": cfg["warmup"], "cosine_horizon": choice["horizon"], "min_lr": cfg["lr"] * 0.1,
                   "optimizer": "AdamW(0.9, 0.95), grad clip 1.0, bf16 autocast",
                   "tokenizer": t["stats"], "seconds_total": time.time() - t_start,
                   "device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu"},
        "sweep": [{"name": r["name"], "params": r["best"]["params"], "best_step": r["best"]["step"],
                   "steps_run": r["best"]["steps_run"], "val_nats_per_token": r["best"]["val"],
                   "val_nats_per_char": r["best"]["val_char"], "train_nats_per_token": r["best"]["train"]}
                  for r in results],
        "samples": samples,
    }
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    log(f"done in {time.time() - t_start:.0f}s")
    with open(os.path.join(args.out, "train.log"), "w") as f:
        f.write(LOG.getvalue())


if __name__ == "__main__":
    main()
