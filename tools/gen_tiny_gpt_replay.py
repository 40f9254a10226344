"""tools/gen_tiny_gpt_replay.py -- the fixture of the test example_tiny_gpt_replays_pytorch: a tiny
GPT trained for a few iterations by the PyTorch twin (examples/tiny_gpt/tiny_gpt_torch.py) with
nanoGPT's random order, which writes its initial weights and window starts to
tests/data/tiny_gpt_replay.safetensors, and the losses it printed to tests/data/tiny_gpt_replay.txt.
`tiny_gpt --replay` with the same flags (examples/tiny_gpt/replay_test.cmake) must print the same
losses to 4 decimals: same weights, same windows, two frameworks. Run with /usr/bin/python3
(PyTorch 1.13); the flags below are repeated in examples/tiny_gpt/tests.cmake.
"""
import os
import re
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
DATA = os.path.join(ROOT, "tests", "data")
FLAGS = ["--n-layer", "2", "--n-head", "2", "--n-embd", "32", "--block", "16", "--batch", "4", "--iters", "8",
         "--warmup-iters", "2", "--lr-decay-iters", "8", "--eval-interval", "4", "--eval-iters", "3",
         "--final-eval-iters", "2", "--lr", "1e-2"]


def main():
    out = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "tiny_gpt", "tiny_gpt_torch.py"), *FLAGS,
                          "--nanogpt-rng", "--seed", "1337", "--threads", "1",
                          "--dump", os.path.join(DATA, "tiny_gpt_replay.safetensors")],
                         check=True, capture_output=True, text=True).stdout
    # Every evaluation (on nanoGPT's windows, and the final one on the twin's own windows, which the
    # fixture holds too) and the last batch's loss.
    lines = [m.group(0) for m in re.finditer(r"^(step \d+: train loss [\d.]+, val loss [\d.]+|iter \d+: loss [\d.]+)",
                                             out, re.M)]
    with open(os.path.join(DATA, "tiny_gpt_replay.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
