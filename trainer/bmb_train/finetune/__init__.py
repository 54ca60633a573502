"""Fine-tuning: extractive QA (SQuAD / BioASQ factoid), NER (BIO), relation extraction and retrieval.

Importing this package imports neither TensorFlow nor torch; each task module imports what it needs.
Modules: :mod:`.qa`, :mod:`.ner`, :mod:`.re`, :mod:`.retrieval` (tasks), :mod:`.metrics` (pure-Python metric
code), :mod:`.bioasq` (BioASQ golden-file reading), :mod:`._common` (the shared TF training loop).
"""
