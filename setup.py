"""Build the Cython kernels in arbv2/_fast.

Every .pyx under arbv2/_fast is compiled with language_level 3 and -O3. Set
ARBV2_DEBUG_CYTHON=1 to turn bounds and wraparound checks back on (debug builds).
"""
import os
from pathlib import Path

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("ARBV2_DEBUG_CYTHON") == "1"

directives = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": True,
    "embedsignature": True,
}

extensions = [
    Extension(
        "arbv2._fast." + pyx.stem,
        [str(pyx)],
        include_dirs=[numpy.get_include()],
        extra_compile_args=["-O0", "-g"] if DEBUG else ["-O3"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )
    for pyx in sorted(Path("arbv2/_fast").glob("*.pyx"))
]

setup(ext_modules=cythonize(extensions, compiler_directives=directives, quiet=True))
