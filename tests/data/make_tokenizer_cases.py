#!/usr/bin/python3
"""Writes the tokenizer golden cases used by tests/tokenizer_test.cpp.

Run from anywhere with Debian's python3-sentencepiece (the test itself needs
no Python):

    /usr/bin/python3 tests/data/make_tokenizer_cases.py /work/shared/models/tokenizer.model

It writes, next to this script:
  tokenizer_hard_cases.jsonl    {"text": ..., "ids": [...]}  sp.encode(text), no BOS
  tokenizer_decode_cases.jsonl  {"ids": [...], "text": ...}  sp.decode(ids)

Strings are written with ensure_ascii=True, so non-ASCII text is \\uXXXX
escapes (surrogate pairs above U+FFFF), which the test's parser must handle.
Everything random is seeded: rerunning gives the same files.
"""
import json
import os
import random
import sys

import sentencepiece as spm

HERE = os.path.dirname(os.path.abspath(__file__))


def hard_texts():
    t = [
        # CJK, Korean, Japanese
        "我爱北京天安门", "日本語のテキスト、句読点。", "안녕하세요 세계", "漢字かな交じり文 and English",
        # emoji, ZWJ sequences, skin tones, flags, variation selectors
        "👨‍👩‍👧‍👦 family", "🏳️‍🌈", "👍🏽 ok", "🇫🇷🇩🇪", "❤️", "🦙🦙🦙", " 😶‍🌫️ ",
        # combining marks
        "e\u0301", "n\u0303o", "Tiếng Việt", "a\u0300\u0301\u0302\u0303", "\u0301 starts with a mark", "Z\u0351\u0352\u0353a\u0354l\u0355g\u0356o",
        # runs of whitespace
        "a  b", "a   b", " " * 10, " " * 33, "\t\t", "a\tb", "\n\n\n\n", " \n ", "\t \t \n", "a \n\n b",
        # line endings
        "line1\r\nline2\r\n", "\r", "\r\n", "one\rtwo",
        # control and invisible characters
        "\x00", "a\x01b", "\x1b[31mred\x1b[0m", "\x7f", "zero\u200bwidth", "\ufeffBOM", "soft\u00adhyphen", "\u2028\u2029",
        "\x08\x0b\x0c",
        # very long words
        "a" * 1000, "supercalifragilisticexpialidocious" * 20, "ab" * 500, "\u4e00" * 300,
        "Pneumonoultramicroscopicsilicovolcanoconiosis",
        # leading and trailing spaces
        "  hello  ", "hello ", " hello", "   ", "hello     ",
        # special-looking text is plain text
        "<s>", "</s>", "<unk>", "<0x0A>", "<s>Hello</s>", " <s> ", "<<s>>",
        # the space symbol itself, and U+FFFD
        "a\u2581b", "\u2581", "\u2581\u2581 \u2581", "\ufffd", "x\ufffdy",
        # digits
        "1234567890", "3.14159265358979", "2023-10-01", "1,000,000", "0", "007", "1e-10", "٠١٢٣",
        # punctuation runs
        "!!!???...", "---", "((()))", "\"'`", "@#$%^&*", "...", "?!", "—–-", "«guillemets»", "「括弧」",
        # mixed scripts
        "Hello мир 世界 مرحبا שלום", "नमस्ते दुनिया", "สวัสดีครับ", "Ελληνικά κείμενα", "ქართული", "Ⅻ ℃ ㎏ ﬁ",
        "Ünïcödé façade naïve café", "ß ẞ ſ", "İstanbul ı", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟘𝟙𝟚", "𐍈 𓀀 𝄞",
        # code
        "def f(x):\n    return x**2\n", "int main() { return 0; }", "<html><body>hi</body></html>",
        "https://example.com/path?q=1&r=2#frag", "user@example.com",
    ]
    return t


def paragraph(rng):
    words = ("the quick brown fox jumps over lazy dog Once upon a time there was little girl named Lily "
             "she loved to play outside in park with her friends sun shining birds singing "
             "naïve café Führer résumé 東京 北京 москва Київ 🦙 😀 👩‍💻 42 3.14 1,024 "
             "don't won't it's \"quoted\" (parens) [brackets] {braces} — – ... ?! ; : ,").split(" ")
    out = []
    while sum(len(w) + 1 for w in out) < 5000:
        w = rng.choice(words)
        sep = rng.choice([" ", " ", " ", " ", "  ", "\n", ", ", ". ", "\t"])
        out.append(w + sep)
    return "".join(out)[:5000]


def random_unicode(rng, n):
    ranges = [(0x20, 0x7E), (0x20, 0x7E), (0x20, 0x7E), (0x00, 0x1F), (0xA0, 0x24F), (0x370, 0x3FF), (0x400, 0x4FF),
              (0x590, 0x6FF), (0x900, 0x97F), (0xE00, 0xE7F), (0x3040, 0x30FF), (0x4E00, 0x9FFF), (0xAC00, 0xD7A3),
              (0x2000, 0x206F), (0x2580, 0x259F), (0xE000, 0xE0FF), (0xFFF0, 0xFFFD), (0x1F300, 0x1FAFF),
              (0x10000, 0x1007F), (0x10FFF0, 0x10FFFF)]
    s = []
    for _ in range(n):
        lo, hi = rng.choice(ranges)
        s.append(chr(rng.randint(lo, hi)))
        if rng.random() < 0.2:
            s.append(" " * rng.randint(1, 3))
    return "".join(s)


def main():
    model = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/models/tokenizer.model"
    sp = spm.SentencePieceProcessor(model_file=model)
    rng = random.Random(20231126)

    texts = hard_texts()
    texts.append(paragraph(rng))
    texts += [random_unicode(rng, rng.randint(1, 40)) for _ in range(300)]
    with open(os.path.join(HERE, "tokenizer_hard_cases.jsonl"), "w") as f:
        for t in texts:
            f.write(json.dumps({"text": t, "ids": sp.encode(t)}, ensure_ascii=True) + "\n")

    # Decode cases: random id sequences mixing normal pieces, <unk>, <s>, </s>
    # and byte tokens. Byte tokens are only ASCII bytes or the complete UTF-8
    # bytes of one character: SentencePiece turns invalid byte sequences into
    # U+FFFD, which we deliberately do not do (see tokenizer.hpp).
    n = sp.get_piece_size()
    byte_id = {sp.id_to_piece(i): i for i in range(n) if sp.is_byte(i)}
    cases = []
    for k in range(400):
        ids = []
        for _ in range(rng.randint(1, 12)):
            r = rng.random()
            if r < 0.6:
                ids.append(rng.randrange(259, n))
            elif r < 0.7:
                ids.append(rng.choice([0, 1, 2]))
            elif r < 0.85:
                ids.append(byte_id["<0x%02X>" % rng.randint(0, 127)])
            else:
                ch = chr(rng.choice([0xE9, 0x4E2D, 0x1F999, 0x2581, 0x20AC]))
                ids += [byte_id["<0x%02X>" % b] for b in ch.encode("utf-8")]
        cases.append(ids)
    cases += [[1, 29871, 13], [29871, 15043], [0, 3186], [3, 3186], [35, 3186], [1, 3186], [2, 3186], [1, 1, 259],
              [1, 0, 3186], [2, 29871], [29871], [259], [1]]
    with open(os.path.join(HERE, "tokenizer_decode_cases.jsonl"), "w") as f:
        for ids in cases:
            f.write(json.dumps({"ids": ids, "text": sp.decode(ids)}, ensure_ascii=True) + "\n")


if __name__ == "__main__":
    main()
