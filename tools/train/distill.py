"""Distills a small draft model for speculative decoding from models/shakespeare.gguf.

The draft must guess what the big model will say, so it learns from the
model itself rather than from the corpus: the teacher (the GGUF, loaded into
train.py's Llama) samples sequences from <s> at temperature 1, and the
student learns the teacher's whole next-token distribution at every position
of them (soft-target cross entropy, i.e. KL to the teacher). The vocabulary
is the teacher's, copied from the GGUF, so the two tokenize identically.

    python3 tools/train/distill.py --teacher models/shakespeare.gguf --out .train/draft --budget 150

Writes weights.bin, manifest.json and vocab.json for export-gguf.js. Needs only
the GGUF (no corpus, no sentencepiece training); the real validation loss on
the corpus is measured afterwards (tools/train/README.md).
"""
import argparse, json, math, os, struct, sys, time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train as T  # noqa: E402  Llama, gguf_name, write_weights, n_params, log


def read_gguf(path):
    """Metadata and F32/F16 tensors (as float32 arrays in PyTorch's [out, in] layout) of a GGUF v3 file."""
    b = open(path, "rb").read()
    pos = 0

    def u(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, b, pos)[0]
        pos += struct.calcsize(fmt)
        return v

    def string():
        nonlocal pos
        n = u("<Q")
        v = b[pos:pos + n].decode("utf-8")
        pos += n
        return v

    scalar = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}

    def value(t):
        if t == 8:
            return string()
        if t == 9:
            et, n = u("<I"), u("<Q")
            return [value(et) for _ in range(n)]
        return u(scalar[t])

    assert b[:4] == b"GGUF", "not a GGUF file"
    pos = 4
    assert u("<I") == 3, "GGUF v3 expected"
    n_tensors, n_kv = u("<Q"), u("<Q")
    md = {}
    for _ in range(n_kv):
        k = string()
        md[k] = value(u("<I"))
    infos = []
    for _ in range(n_tensors):
        name = string()
        shape = [u("<Q") for _ in range(u("<I"))]
        infos.append((name, shape, u("<I"), u("<Q")))
    align = md.get("general.alignment", 32)
    base = (pos + align - 1) // align * align
    tensors = {}
    for name, shape, typ, off in infos:
        dt = {0: np.float32, 1: np.float16}[typ]
        n = int(np.prod(shape))
        tensors[name] = np.frombuffer(b, dt, n, base + off).reshape(shape[::-1]).astype(np.float32)
    return md, tensors


def teacher_model(md, tensors, device):
    a = md["general.architecture"]
    dim, heads = md[f"{a}.embedding_length"], md[f"{a}.attention.head_count"]
    cfg = {"vocab_size": len(md["tokenizer.ggml.tokens"]), "dim": dim, "n_layer": md[f"{a}.block_count"],
           "n_head": heads, "n_kv_head": md[f"{a}.attention.head_count_kv"], "head_dim": dim // heads,
           "ffn_dim": md[f"{a}.feed_forward_length"], "n_ctx": md[f"{a}.context_length"],
           "norm_eps": md[f"{a}.attention.layer_norm_rms_epsilon"], "rope_base": md[f"{a}.rope.freq_base"],
           "dropout": 0.0}
    model = T.Llama(cfg)
    state = {}
    for k, v in model.state_dict().items():
        w = torch.from_numpy(tensors[T.gguf_name(k)].copy())
        assert w.shape == v.shape, f"{k}: {tuple(w.shape)} in the GGUF, {tuple(v.shape)} expected"
        state[k] = w
    model.load_state_dict(state)
    return model.to(device).eval(), cfg


@torch.no_grad()
def sample(teacher, n_seq, n_tok, device, seed):
    """n_seq sequences of n_tok tokens: <s> then the teacher's samples at temperature 1."""
    g = torch.Generator(device=device)
    g.manual_seed(seed)
    out = torch.full((n_seq, 1), 1, dtype=torch.long, device=device)
    for _ in range(n_tok - 1):
        with T.autocast(device):
            logits = teacher(out)[:, -1].float()
        out = torch.cat([out, torch.multinomial(logits.softmax(-1), 1, generator=g)], dim=1)
    return out


def soft_ce(student_logits, teacher_logits):
    """Cross entropy against the teacher's distribution (KL plus the teacher's entropy), nats per token."""
    p = teacher_logits.float().softmax(-1)
    return -(p * student_logits.float().log_softmax(-1)).sum(-1).mean()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--teacher", default="models/shakespeare.gguf")
    ap.add_argument("--out", default=os.environ.get("OUT", ".train/draft"))
    ap.add_argument("--budget", type=float, default=150, help="seconds for sampling and training")
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--ffn", type=int, default=384)
    ap.add_argument("--seqs", type=int, default=3072, help="teacher samples to train on")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--ctx", type=int, default=0, help="sample length (default: the teacher's context)")
    ap.add_argument("--check-ref", default="tools/train/reference.json", help="teacher's greedy ids to reproduce")
    args = ap.parse_args()
    t0 = time.time()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
    os.makedirs(args.out, exist_ok=True)
    T.log(f"torch {torch.__version__}, device {device}" + (f" ({torch.cuda.get_device_name(0)})" if device == "cuda" else ""))

    md, tensors = read_gguf(args.teacher)
    teacher, tcfg = teacher_model(md, tensors, device)
    T.log(f"teacher {args.teacher}: {T.n_params(teacher)} params, {tcfg}")
    if os.path.exists(args.check_ref):
        ref = json.load(open(args.check_ref))
        ids = torch.tensor([ref["prompt_ids"]], device=device)
        with torch.no_grad():
            for _ in range(len(ref["greedy_ids"]) - len(ref["prompt_ids"])):
                ids = torch.cat([ids, teacher(ids)[:, -1:].float().argmax(-1)], dim=1)
        same = sum(int(a == b) for a, b in zip(ids[0].tolist(), ref["greedy_ids"]))
        T.log(f"teacher greedy vs {args.check_ref}: {same}/{len(ref['greedy_ids'])} ids equal")
        # TF32 matmuls may flip a near tie late in the sequence; a wrong load agrees on next to nothing.
        assert same >= 0.9 * len(ref["greedy_ids"]), "the teacher did not load right"

    n_ctx = args.ctx or tcfg["n_ctx"]
    data, val = [], None
    chunk = 512 if device == "cuda" else 4
    while not data or (sum(len(d) for d in data) < args.seqs and time.time() - t0 < args.budget * 0.4):
        data.append(sample(teacher, chunk, n_ctx + 1, device, seed=len(data)))
    data = torch.cat(data)
    n_val = max(1, min(64, len(data) // 10))
    val, data = data[:n_val], data[n_val:]
    T.log(f"sampled {len(data)} + {len(val)} (val) sequences of {n_ctx + 1} tokens in {time.time() - t0:.0f}s")

    cfg = {"vocab_size": tcfg["vocab_size"], "dim": args.dim, "n_layer": args.layers, "n_head": args.heads,
           "n_kv_head": args.kv_heads, "head_dim": args.dim // args.heads, "ffn_dim": args.ffn, "n_ctx": tcfg["n_ctx"],
           "norm_eps": tcfg["norm_eps"], "rope_base": tcfg["rope_base"], "dropout": 0.0}
    torch.manual_seed(1337)
    student = T.Llama(cfg).to(device)
    decay = [p for p in student.parameters() if p.dim() == 2]
    other = [p for p in student.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95))
    t_train = time.time()
    deadline = t0 + args.budget
    steps = args.steps
    g = torch.Generator(device=device)
    g.manual_seed(1337)

    @torch.no_grad()
    def val_loss():
        student.eval()
        tot = 0.0
        for s in range(0, len(val), 16):
            x = val[s:s + 16, :-1]
            with T.autocast(device):
                tot += float(soft_ce(student(x), teacher(x))) * len(x)
        student.train()
        return tot / len(val)

    best = (float("inf"), 0, None)
    for step in range(1, steps + 1):
        lr = args.lr * step / 100 if step <= 100 else \
            args.lr * (0.1 + 0.45 * (1 + math.cos(math.pi * (step - 100) / max(1, steps - 100))))
        for grp in opt.param_groups:
            grp["lr"] = lr
        x = data[torch.randint(len(data), (args.batch,), device=device, generator=g), :-1]
        with torch.no_grad(), T.autocast(device):
            tl = teacher(x)
        with T.autocast(device):
            loss = soft_ce(student(x), tl)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        opt.step()
        last = step == steps or time.time() > deadline
        if step % 250 == 0 or last:
            vl = val_loss()
            if vl < best[0]:
                best = (vl, step, {k: v.detach().float().cpu().clone() for k, v in student.state_dict().items()})
            T.log(f"step {step:5d} lr {lr:.2e} train {loss.item():.4f} val {vl:.4f} nats/token (soft)  {time.time() - t_train:6.1f}s")
        if last:
            break
    student.load_state_dict(best[2])
    T.log(f"kept step {best[1]}: val {best[0]:.4f} nats/token against the teacher's distribution; "
          f"{T.n_params(student)} params; {time.time() - t0:.0f}s in all")

    tensors_out = T.write_weights(student.state_dict(), args.out)
    tok = md["tokenizer.ggml.tokens"]
    with open(os.path.join(args.out, "vocab.json"), "w") as f:
        json.dump({"pieces": tok, "scores": md["tokenizer.ggml.scores"], "types": md["tokenizer.ggml.token_type"],
                   "unk_id": md.get("tokenizer.ggml.unknown_token_id", 0), "bos_id": md["tokenizer.ggml.bos_token_id"],
                   "eos_id": md["tokenizer.ggml.eos_token_id"],
                   "add_space_prefix": md.get("tokenizer.ggml.add_space_prefix", True)}, f)
    manifest = {
        "config": {k: cfg[k] for k in ("vocab_size", "dim", "n_layer", "n_head", "n_kv_head", "head_dim",
                                        "ffn_dim", "n_ctx", "norm_eps", "rope_base")},
        "tensors": tensors_out, "params": T.n_params(student),
        "name": f"wasmllm Shakespeare draft {T.n_params(student) / 1e6:.1f}M",
        "description": f"A draft model for speculative decoding with {os.path.basename(args.teacher)}, distilled from it "
                       f"(soft targets on {len(data)} of its samples). Recipe: tools/train/ in the wasmllm repository.",
        "distill": {"teacher": os.path.basename(args.teacher), "val_soft_nats_per_token": best[0], "best_step": best[1],
                    "steps_run": step, "sequences": len(data), "batch": args.batch, "lr": args.lr,
                    "seconds_total": time.time() - t0,
                    "device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu"},
    }
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    with open(os.path.join(args.out, "train.log"), "w") as f:
        f.write(T.LOG.getvalue())


if __name__ == "__main__":
    main()
