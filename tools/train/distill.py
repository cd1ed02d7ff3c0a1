"""Distills a small draft model for speculative decoding from models/shakespeare.gguf.

The draft must guess what the big model will say, so it learns from the
model itself rather than from the corpus: the teacher (the GGUF, loaded into
train.py's Llama) samples sequences from <s> at temperature 1, and the
student learns the teacher's whole next-token distribution at every position
of them (soft-target cross entropy, i.e. KL to the teacher). The vocabulary
is the teacher's, copied from the GGUF, so the two tokenize identically.

    python3 tools/train/distill.py --teacher models/shakespeare.gguf --out .train/draft

Writes weights.bin, manifest.json and vocab.json for export-gguf.js. Needs only
the GGUF (no corpus, no sentencepiece training); the real validation loss on
the corpus is measured afterwards (tools/train/README.md).
"""
import argparse, json, math, os, struct, sys, time

import numpy as np
import torch

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
def sample(teacher, n_seq, length, device):
    """n_seq sequences: <s> then `length` tokens the teacher samples at temperature 1."""
    x = torch.ones(n_seq, 1, dtype=torch.long, device=device)
    with T.autocast(device):
        for _ in range(length):
            x = torch.cat([x, torch.multinomial(teacher(x)[:, -1].float().softmax(-1), 1)], dim=1)
    return x


def soft_ce(student, teacher, x, device):
    """Cross entropy against the teacher's next-token distribution at every position (nats/token)."""
    with torch.no_grad(), T.autocast(device):
        p = teacher(x).float().softmax(-1)
    with T.autocast(device):
        return -(p * student(x).float().log_softmax(-1)).sum(-1).mean()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--teacher", default="models/shakespeare.gguf")
    ap.add_argument("--out", default=os.environ.get("OUT", ".train/draft"))
    ap.add_argument("--chunks", type=int, default=4, help="batches of 512 teacher samples (the first 64 validate)")
    ap.add_argument("--sample-len", type=int, default=511, help="tokens per sample after <s>")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--ffn", type=int, default=384)
    ap.add_argument("--check-ref", default="tools/train/reference.json", help="the teacher's greedy ids to reproduce")
    args = ap.parse_args()
    t0 = time.time()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
    os.makedirs(args.out, exist_ok=True)

    md, tensors = read_gguf(args.teacher)
    teacher, tcfg = teacher_model(md, tensors, device)
    if os.path.exists(args.check_ref):
        ref = json.load(open(args.check_ref))
        x = torch.tensor([ref["greedy_ids"]], device=device)
        n = len(ref["prompt_ids"])
        with torch.no_grad():
            same = int((teacher(x)[0, n - 1:-1].argmax(-1) == x[0, n:]).sum())
        T.log(f"teacher: {same}/{x.shape[1] - n} of {args.check_ref}'s greedy tokens are its argmax")
        assert same >= 0.9 * (x.shape[1] - n), "the teacher did not load right"

    data = torch.cat([sample(teacher, 512, args.sample_len, device) for _ in range(args.chunks)])
    val, data = data[:64], data[64:]
    T.log(f"sampled {tuple(data.shape)} + 64 validation sequences in {time.time() - t0:.0f}s")

    cfg = dict(tcfg, dim=args.dim, n_layer=args.layers, n_head=4, n_kv_head=2, head_dim=args.dim // 4, ffn_dim=args.ffn)
    torch.manual_seed(1)
    student = T.Llama(cfg).to(device)
    opt = torch.optim.AdamW(student.parameters(), lr=2e-3, betas=(0.9, 0.95), weight_decay=0.1)
    n = args.steps
    for step in range(1, n + 1):
        # 100 warmup steps, then cosine from 2e-3 down to 2e-4
        lr = 2e-3 * min(step / 100, 0.1 + 0.45 * (1 + math.cos(math.pi * step / n)))
        for grp in opt.param_groups:
            grp["lr"] = lr
        loss = soft_ce(student, teacher, data[torch.randint(len(data), (32,))], device)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1)
        opt.step()
        if step % 200 == 0 or step == n:
            with torch.no_grad():
                vl = sum(float(soft_ce(student, teacher, val[j:j + 16], device)) for j in range(0, 64, 16)) / 4
            T.log(step, round(loss.item(), 4), "val", round(vl, 4), round(time.time() - t0))

    params = T.n_params(student)
    tensors_out = T.write_weights(student.state_dict(), args.out)
    write_vocab(md, args.out)
    manifest = {
        "config": {k: cfg[k] for k in ("vocab_size", "dim", "n_layer", "n_head", "n_kv_head", "head_dim",
                                        "ffn_dim", "n_ctx", "norm_eps", "rope_base")},
        "tensors": tensors_out, "params": params, "val": vl, "seconds": time.time() - t0,
    }
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


def write_vocab(md, out):
    """The teacher's vocabulary as export-gguf.js reads it: the draft's is the same, token for token."""
    with open(os.path.join(out, "vocab.json"), "w") as f:
        json.dump({"pieces": md["tokenizer.ggml.tokens"], "scores": md["tokenizer.ggml.scores"],
                   "types": md["tokenizer.ggml.token_type"], "unk_id": md.get("tokenizer.ggml.unknown_token_id", 0),
                   "bos_id": md["tokenizer.ggml.bos_token_id"], "eos_id": md["tokenizer.ggml.eos_token_id"],
                   "add_space_prefix": md.get("tokenizer.ggml.add_space_prefix", True)}, f)


if __name__ == "__main__":
    main()
