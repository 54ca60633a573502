"""Native-library load order for processes that use TensorFlow and PyTorch together.

TensorFlow and Triton (which PyTorch's CUDA wheels install, and which transformers imports while loading a
model) each carry their own copy of LLVM. Loading ``libtriton`` after TensorFlow's libraries crashes the
interpreter with a segmentation fault (seen with TensorFlow 2.21 and Triton 3.7.1); the other order is fine.
Everything in bmb-es and bmb-train that imports TensorFlow calls :func:`load_triton_before_tensorflow` first,
so training, exporting and embedding can share one process, as the test suite and notebooks do.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys


def load_triton_before_tensorflow() -> bool:
    """Import Triton now if it is installed and TensorFlow is not loaded yet.

    Returns
    -------
    bool
        ``True`` when Triton is loaded (now or before), ``False`` when it is not installed or TensorFlow was
        imported first, in which case nothing can be done from here.
    """
    if "triton" in sys.modules:
        return True
    if "tensorflow" in sys.modules or importlib.util.find_spec("triton") is None:
        return False
    importlib.import_module("triton")
    return True
