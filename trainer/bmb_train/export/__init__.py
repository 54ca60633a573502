"""Export a pretraining run to TF-Hub SavedModel, Hugging Face / sentence-transformers and OpenSearch formats."""

from ._hf import export_hf
from ._opensearch import export_opensearch
from ._run import TrainedRun, load_run, sample_batch
from ._tfhub import export_tfhub

__all__ = ["TrainedRun", "export_hf", "export_opensearch", "export_tfhub", "load_run", "sample_batch"]
