"""TensorFlow and PyTorch in one process: Triton loaded after TensorFlow segfaults, so bmb-es loads it first."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

needs_both = pytest.mark.skipif(
    importlib.util.find_spec("triton") is None or importlib.util.find_spec("tensorflow") is None,
    reason="needs Triton (PyTorch's CUDA wheels) and TensorFlow (the tf extra) installed",
)


# What loads TensorFlow first: the trainer's modules import it at the top; the TF-Hub embedder when it is built
# (here on a folder that is not a SavedModel, so it fails after TensorFlow is imported).
FIRST = {
    "trainer": "import bmb_train.pretrain",
    "tfhub-embedder": (
        "from pathlib import Path\n"
        "from bmb_es.embedding._tfhub import TfHubEmbedder\n"
        "try:\n    TfHubEmbedder(Path('/nonexistent'), 'x')\nexcept Exception:\n    pass"
    ),
}


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)


@pytest.mark.slow
@needs_both
@pytest.mark.parametrize("first", list(FIRST.values()), ids=list(FIRST))
def test_tensorflow_then_triton_in_one_process_does_not_crash(first: str) -> None:
    result = _run(f"{first}\nimport tensorflow\nimport triton.runtime.autotuner\nprint('both loaded')")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "both loaded" in result.stdout


@pytest.mark.slow
@needs_both
def test_the_crash_this_guards_against_is_real() -> None:
    """Without the guard the process dies with SIGSEGV; if this starts passing, the guard may be dropped."""
    result = _run("import tensorflow\nimport triton.runtime.autotuner")
    assert result.returncode == -11, (result.returncode, result.stderr[-2000:])
