#!/usr/bin/env python3
"""Generates text with llama2.cpp from Python through its C API (libllama2.so)
and ctypes alone: no package to install.

    python3 examples/python/generate.py --lib build/libllama2.so \\
        --model model.bin --tokenizer tokenizer.bin --prompt "Once upon a time" -n 128 -t 0

Prints the prompt, then the text as it streams (like `run`), then a newline.
--stop STRING (repeatable) ends the text before STRING.
"""
import argparse
import ctypes
import sys

LLAMA2_OK = 0


class ModelInfo(ctypes.Structure):
    _fields_ = [(name, ctypes.c_int32) for name in
                ("dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len", "bos_id", "eos_id")]


class SessionParams(ctypes.Structure):
    _fields_ = [("n_threads", ctypes.c_int32), ("context", ctypes.c_int32), ("kv_f16", ctypes.c_int32),
                ("temperature", ctypes.c_float), ("top_p", ctypes.c_float), ("top_k", ctypes.c_int32),
                ("min_p", ctypes.c_float), ("repeat_penalty", ctypes.c_float), ("repeat_last_n", ctypes.c_int32),
                ("seed", ctypes.c_uint64)]


TOKEN_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int32, ctypes.POINTER(ctypes.c_char),
                                  ctypes.c_size_t)


class Llama2:
    """The few C functions this example needs, with their signatures."""

    def __init__(self, path):
        lib = ctypes.CDLL(path)
        p = ctypes.c_void_p
        sigs = {
            "llama2_last_error": ([], ctypes.c_char_p),
            "llama2_version": ([], ctypes.c_char_p),
            "llama2_model_load": ([ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(p)], ctypes.c_int),
            "llama2_model_free": ([p], None),
            "llama2_model_get_info": ([p, ctypes.POINTER(ModelInfo)], ctypes.c_int),
            "llama2_session_params_init": ([ctypes.POINTER(SessionParams)], None),
            "llama2_session_new": ([p, ctypes.POINTER(SessionParams), ctypes.POINTER(p)], ctypes.c_int),
            "llama2_session_free": ([p], None),
            "llama2_session_append_text": ([p, ctypes.c_char_p, ctypes.c_int], ctypes.c_int),
            "llama2_session_generate": ([p, ctypes.c_int32, ctypes.POINTER(ctypes.c_char_p), ctypes.c_size_t,
                                         TOKEN_CALLBACK, p, ctypes.POINTER(ctypes.c_int)], ctypes.c_int),
            "llama2_session_get_tokens": ([p, p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t)], ctypes.c_int),
            "llama2_stop_reason_name": ([ctypes.c_int], ctypes.c_char_p),
        }
        for name, (args, res) in sigs.items():
            fn = getattr(lib, name)
            fn.argtypes, fn.restype = args, res
        self.lib = lib

    def check(self, status, what):
        if status != LLAMA2_OK:
            raise RuntimeError(f"{what}: {self.lib.llama2_last_error().decode(errors='replace')}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lib", default="build/libllama2.so", help="path to libllama2.so")
    ap.add_argument("--model", required=True)
    ap.add_argument("--tokenizer", default=None, help="default: beside the model, or inside a GGUF")
    ap.add_argument("--prompt", default="")
    ap.add_argument("-n", "--steps", type=int, default=128, help="positions, the prompt's included (as run -n)")
    ap.add_argument("-t", "--temperature", type=float, default=1.0)
    ap.add_argument("-s", "--seed", type=int, default=0)
    ap.add_argument("--stop", action="append", default=[])
    args = ap.parse_args()

    api = Llama2(args.lib)
    lib = api.lib
    model = ctypes.c_void_p()
    api.check(lib.llama2_model_load(args.model.encode(), args.tokenizer.encode() if args.tokenizer else None,
                                    ctypes.byref(model)), "load")
    info = ModelInfo()
    api.check(lib.llama2_model_get_info(model, ctypes.byref(info)), "info")
    params = SessionParams()
    lib.llama2_session_params_init(ctypes.byref(params))
    params.temperature, params.seed = args.temperature, args.seed
    session = ctypes.c_void_p()
    api.check(lib.llama2_session_new(model, ctypes.byref(params), ctypes.byref(session)), "session")
    try:
        api.check(lib.llama2_session_append_text(session, args.prompt.encode(), 1), "prompt")
        out = sys.stdout.buffer
        out.write(args.prompt.encode())

        def on_token(_user, _token, text, length):
            out.write(ctypes.string_at(text, length))
            out.flush()
            return 1

        callback = TOKEN_CALLBACK(on_token)  # kept alive for the call
        stops = (ctypes.c_char_p * max(1, len(args.stop)))(*[s.encode() for s in args.stop])
        reason = ctypes.c_int()
        # -n counts positions as `run` does; the prompt's tokens are already in the session.
        tokens_in_prompt = ctypes.c_size_t()
        # Capacity 0: the call only says how many there are (LLAMA2_ERROR_BUFFER_TOO_SMALL).
        lib.llama2_session_get_tokens(session, None, 0, ctypes.byref(tokens_in_prompt))
        steps = min(args.steps if args.steps > 0 else info.seq_len, info.seq_len)
        budget = steps - tokens_in_prompt.value + 1
        api.check(lib.llama2_session_generate(session, budget, stops, len(args.stop), callback, None,
                                              ctypes.byref(reason)), "generate")
        out.write(b"\n")
        out.flush()
        print(f"stopped: {lib.llama2_stop_reason_name(reason.value).decode()}", file=sys.stderr)
    finally:
        lib.llama2_session_free(session)
        lib.llama2_model_free(model)


if __name__ == "__main__":
    main()
