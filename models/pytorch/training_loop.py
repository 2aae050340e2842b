"""The training loop of train_code.py and train_listops.py: a wall-clock budget
(counted across --resume), a cosine learning rate after a linear warm-up,
AdamW steps with gradient clipping, progress every 20 steps, a validation every
few minutes that keeps the best state, and a checkpoint (model, optimiser, loop
state) after each validation and at the end.
"""
import math
import os
import random
import time

import torch


def start_state(path, model, opt, resume, seed):
    """The loop state, and the random stream for the batches: fresh, or, with
    `resume` and a checkpoint at `path`, the checkpoint's (model and optimiser
    restored) with a stream seeded by the step, so the batches after a resume
    are new ones rather than a replay of the first."""
    state = {"step": 0, "elapsed": 0.0, "best": -1.0, "best_state": None, "curve": []}
    if resume and os.path.exists(path):
        saved = torch.load(path)
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["opt"])
        state = saved["state"]
        print(f"resumed at step {state['step']}, {state['elapsed'] / 60:.1f} min", flush=True)
    stream_seed = seed * 1_000_003 + state["step"] if state["step"] else seed
    torch.manual_seed(stream_seed)
    return state, random.Random(stream_seed)


def save_checkpoint(path, model, opt, state):
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "state": state}, path)


def train(model, opt, state, path, *, minutes, lr, warmup_steps, val_every, step, validate):
    """Trains until `minutes` of training time have passed in total.

    step(elapsed, budget) runs the forward pass of one batch (seconds elapsed of
    the budget) and returns (loss, correct, examples, note): the loss tensor,
    the batch's correct predictions and size, and text for the progress line.
    validate() returns the validation accuracy (it may leave the model in eval
    mode; training resumes in train mode). Returns the final state, whose
    "best_state" is the model state of the best validation.
    """
    budget = minutes * 60
    start = time.time() - state["elapsed"]
    last_val = time.time()
    losses, hits, seen = [], 0, 0
    model.train()
    while True:
        elapsed = time.time() - start
        if elapsed >= budget:
            break
        rate = lr * min(1.0, (state["step"] + 1) / warmup_steps) * 0.5 * (1 + math.cos(math.pi * elapsed / budget))
        for g in opt.param_groups:
            g["lr"] = rate
        loss, correct, examples, note = step(elapsed, budget)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        state["step"] += 1
        losses.append(loss.item())
        hits += correct
        seen += examples
        if state["step"] % 20 == 0:
            print(f"step {state['step']} {elapsed / 60:.1f} min loss {sum(losses) / len(losses):.3f} "
                  f"train acc {hits / seen:.3f}{note} lr {rate:.2e}", flush=True)
            losses, hits, seen = [], 0, 0
        if time.time() - last_val > val_every * 60 or time.time() - start >= budget:
            acc = validate()
            model.train()
            state["curve"].append((round((time.time() - start) / 60, 1), state["step"], acc))
            if acc > state["best"]:
                state["best"] = acc
                state["best_state"] = {k: v.clone() for k, v in model.state_dict().items()}
            print(f"== val acc {acc:.3f} (best {state['best']:.3f}) at step {state['step']}", flush=True)
            state["elapsed"] = time.time() - start
            save_checkpoint(path, model, opt, state)
            last_val = time.time()
    state["elapsed"] = time.time() - start
    save_checkpoint(path, model, opt, state)
    print("curve (minutes, step, val acc): " + "; ".join(f"{m} {s} {a:.3f}" for m, s, a in state["curve"]))
    return state
