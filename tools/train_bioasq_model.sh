#!/usr/bin/env bash
# Train the candidate biomedical retrieval models and keep the one with the best BioASQ dev MRR@10.
#
#   tools/train_bioasq_model.sh DATA OUT [DEVICE]
#
# DATA is a folder laid out like ../shared/data (bioasq/golden/{4B..7B}_golden.json,
# bioasq/pubmed/pubmed_abstracts.jsonl, pubmedqa/test_set.json); OUT receives one `bmb-train finetune retrieval`
# folder per candidate and `choice.json`; DEVICE is cpu (default; slow), cuda, cuda:1...
# BMB_TRAIN (default `bmb-train`) and BASE_MODEL (default: the offline all-MiniLM-L6-v2) can be overridden.
#
# Candidates (all from the same base, seed 42, BioASQ 7B excluded; the dev set is 10% of 4B-6B questions):
#   bioasq           4B-6B questions: golden snippets and abstracts as positives, in-batch negatives
#   pubmedqa         + the 500 PubMedQA questions, each with its abstract as positive
#   pubmedqa-dense   + one dense hard negative per question, from rank 11 on of the base model's ranking
# The choice is made on the dev set alone: 7B, NFCorpus and every benchmark set stay unseen until scored.
set -euo pipefail

if [[ $# -lt 2 || $1 == -h || $1 == --help ]]; then
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
data=$1
out=$2
device=${3:-cpu}
train=${BMB_TRAIN:-bmb-train}
base=${BASE_MODEL:-default}
golden=$data/bioasq/golden

common=(
    finetune retrieval
    --init "$base"
    --pairs "$golden/4B_golden.json" --pairs "$golden/5B_golden.json" --pairs "$golden/6B_golden.json"
    --exclude "$golden/7B_golden.json"
    --corpus "$data/bioasq/pubmed/pubmed_abstracts.jsonl"
    --batch-size 64 --max-seq-length 256 --steps 600 --eval-every 50 --patience 4 --seed 42
    --device "$device"
)
mkdir -p "$out"
$train "${common[@]}" --out "$out/bioasq"
$train "${common[@]}" --pubmedqa "$data/pubmedqa/test_set.json" --out "$out/pubmedqa"
$train "${common[@]}" --pubmedqa "$data/pubmedqa/test_set.json" --dense-negatives 1 --negative-skip 10 \
    --out "$out/pubmedqa-dense"

python3 - "$out" <<'PY'
import json
import sys
from pathlib import Path

out = Path(sys.argv[1])
dev = {d.name: json.loads((d / "metrics.json").read_text())["best_dev_mrr10"] for d in sorted(out.iterdir()) if (d / "metrics.json").is_file()}
best = max(dev, key=lambda name: dev[name])
(out / "choice.json").write_text(json.dumps({"dev_mrr10": dev, "chosen": best}, indent=2) + "\n")
print(f"dev MRR@10: {dev}; chosen: {best}")
PY
