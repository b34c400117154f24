"""The compiled kernels are what `arbv2._fast` hands out; the reference only on request."""
import os
import subprocess
import sys

import arbv2._fast as fast


def test_compiled_modules_in_use():
    assert fast.COMPILED is True
    for module in (fast.book, fast.consolidated, fast.spread):
        assert module.__file__.endswith(".so"), module.__file__
    assert type(fast.book.L2Book()).__module__ == "arbv2._fast.book"


def test_no_extensions_env_hands_out_reference():
    code = ("import arbv2._fast as f; from arbv2._fast import book, spread, consolidated;"
            "print(f.COMPILED, book.__name__, spread.__name__, consolidated.__name__)")
    env = dict(os.environ, ARBV2_NO_EXTENSIONS="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False"] + ["arbv2._fast.reference"] * 3
