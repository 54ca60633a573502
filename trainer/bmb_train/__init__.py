"""bmb-train: BERT pretraining (MLM + NSP) in TensorFlow 2 and export to TF-Hub, Hugging Face and OpenSearch.

Importing this package does not import TensorFlow; the heavy modules import it themselves. It does load Triton
first when it is installed: Triton loaded after TensorFlow crashes the process (see ``bmb_es._load_order``).
"""

from bmb_es._load_order import load_triton_before_tensorflow

from ._config import PRESETS, BertConfig, load_config
from ._errors import ConfigError, DataError, ExportError, TrainerError, WeightMappingError

load_triton_before_tensorflow()  # before any submodule imports TensorFlow

__version__ = "0.1.0"

__all__ = [
    "PRESETS",
    "BertConfig",
    "ConfigError",
    "DataError",
    "ExportError",
    "TrainerError",
    "WeightMappingError",
    "__version__",
    "load_config",
]
