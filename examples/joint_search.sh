#!/bin/sh
# Joint hyperparameter + architecture search: every trial is an architecture of
# the nas-bench-macro space together with an (lr, weight_decay) pair, trained
# for real on Fashion-MNIST by examples/train_fashion_mnist.py through the
# command evaluator, two trials at a time.  Then the best trials are listed.
#
#   examples/joint_search.sh                 # from anywhere; joint.db in the cwd
#   SYLVA=/path/to/sylva DB=/tmp/j.db examples/joint_search.sh --trials 16
#
# Extra arguments are passed on to `sylva search`.  Trial directories (logs,
# trial.json, report.jsonl, checkpoints) go to $DB.trials/.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SYLVA=${SYLVA:-$ROOT/build/sylva}
PYTHON=${PYTHON:-/usr/bin/python3}   # Debian's python3 with python3-torch
DB=${DB:-joint.db}

"$SYLVA" search --name joint --db "$DB" --space nas-bench-macro \
  --hparam lr=0.01,0.03,0.1 --hparam weight_decay=1e-4,5e-4 \
  --evaluator command \
  --command "$PYTHON '$ROOT/examples/train_fashion_mnist.py' --train-images 5000 --epochs 2" \
  --input-shape 1,28,28 --classes 10 \
  --workers 2 --trials 8 --strategy evolution "$@"

"$SYLVA" best --name joint --db "$DB"
