#!/usr/bin/env python3
"""PyTorch's fused LSTM (oneDNN/MKL on the CPU, cuDNN on a GPU) on `cadenza bench train`'s work.

The same network and step as Cadenza's: one-hot input of 388 classes, 3 x 512 LSTM layers with dropout keep 0.5 between and after them, a 388-way softmax,
cross-entropy, backward, Adam; batch 48, 512 events. It is not Magenta's model (PyTorch's cell
has two biases and no forget bias +1), only the same arithmetic, as a second reference point
beside `tools/magenta_speed.py`. Layer 0 multiplies the one-hot input (Cadenza gathers a row
instead), which adds about 15% to torch's work per token.

    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch numpy
    /tmp/torchenv/bin/python tools/torch_lstm_speed.py [--device cuda] [--threads 2] [--json out.json]
"""
import argparse
import json
import os
import resource
import time

import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=48)
    ap.add_argument("--events", type=int, default=512)
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--json")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    classes = 388
    lstm = torch.nn.LSTM(classes, a.hidden, num_layers=a.layers, dropout=0.5).to(dev)
    head = torch.nn.Linear(a.hidden, classes).to(dev)
    drop = torch.nn.Dropout(0.5)
    params = list(lstm.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, classes, (a.events, a.batch), generator=g).to(dev)
    y = torch.randint(0, classes, (a.events, a.batch), generator=g).to(dev)
    onehot = torch.nn.functional.one_hot(x, classes).float()

    def step():
        opt.zero_grad(set_to_none=True)
        h, _ = lstm(onehot)
        logits = head(drop(h))
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, classes), y.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 3.0)
        opt.step()
        return loss

    step()  # warm-up
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(a.steps):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    secs = time.perf_counter() - t
    out = {
        "impl": f"torch {torch.__version__} nn.LSTM ({a.device})",
        "layers": [a.hidden] * a.layers,
        "batch": a.batch,
        "events": a.events,
        "steps": a.steps,
        "threads": torch.get_num_threads(),
        "steps_per_second": a.steps / secs,
        "tokens_per_second": a.steps * a.batch * a.events / secs,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }
    print(json.dumps(out, indent=1))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
