#!/usr/bin/env python3
"""ctest: examples/python/generate.py (ctypes over libllama2.so) prints, for
each prompt of the golden file, exactly what llama2.c prints greedily.
    python_example_test.py LIB EXAMPLE MODELS_DIR GOLDEN_DIR"""
import os
import subprocess
import sys

lib, example, models, golden = sys.argv[1:5]
lib = os.path.abspath(lib)
models = os.environ.get("LLAMA2_TEST_MODELS") or models
golden = os.path.join(os.path.dirname(os.path.abspath(models)), "golden") if os.environ.get("LLAMA2_TEST_MODELS") else golden
model = os.path.join(models, "aidreams260K.bin")
tok = os.path.join(models, "aidreams_tok512.bin")
golden_file = os.path.join(golden, "aidreams260K_greedy.txt")
for path in (model, tok, golden_file):
    if not os.path.exists(path):
        print(f"missing {path}: run models/download.sh test", file=sys.stderr)
        sys.exit(1 if os.environ.get("CI") == "true" else 77)

cases = []
with open(golden_file, "rb") as f:
    lines = [l for l in f.read().split(b"\n") if not l.startswith(b"#")]
text = b"\n".join(lines)
for block in text.split(b"\n@@@")[:-1]:
    block = block.lstrip(b"\n")
    head, _, out = block.partition(b"\n")
    assert head.startswith(b"PROMPT: "), head
    cases.append((head[len(b"PROMPT: "):].decode(), out))  # run.c's stdout, its final newline included

failed = 0
for prompt, want in cases:
    got = subprocess.run([sys.executable, example, "--lib", lib, "--model", model, "--tokenizer", tok,
                          "--prompt", prompt, "-t", "0", "-n", "128"], capture_output=True, check=True).stdout
    if got != want:
        failed += 1
        print(f"prompt {prompt!r}:\n want {want!r}\n got  {got!r}", file=sys.stderr)
print(f"python ctypes example: {len(cases) - failed} of {len(cases)} golden cases match")
sys.exit(1 if failed or not cases else 0)
