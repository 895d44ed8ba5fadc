#!/bin/sh
# A Sylva command evaluator in plain POSIX sh: it shows the three-line protocol.
#
#   sylva search --name demo --space nas-bench-macro --hparam lr=0.01,0.03,0.1 \
#       --evaluator command --command "sh $PWD/examples/shell_evaluator.sh" --trials 8
#
# Instead of training it derives a deterministic pseudo score from the trial's
# key (cksum) and its lr, reports it at 3 steps and finishes.  Run by hand
# (SYLVA_REPORT unset) it writes its lines to stderr.
set -eu

: "${SYLVA_TRIAL_JSON:=trial.json}"
: "${SYLVA_REPORT:=/dev/stderr}"
: "${SYLVA_STOP_FILE:=stop}"

# 1. Read the trial (python3 -c here; jq -r .hyperparameters.lr works too).
field() {
  python3 -c 'import json, sys
t = json.load(open(sys.argv[1]))
v = t["hyperparameters"].get(sys.argv[2], sys.argv[3]) if sys.argv[2] != "key" else t["key"]
print(v)' "$SYLVA_TRIAL_JSON" "$1" "${2:-}"
}
key=$(field key)
lr=$(field lr 0.1)

# "Train": a score in [50, 90) from the key's checksum, minus a penalty for an
# lr far from 0.03 (awk does the floating point).
sum=$(printf '%s' "$key" | cksum | cut -d ' ' -f 1)
score=$(awk -v s="$sum" -v lr="$lr" 'BEGIN {
  d = log(lr) / log(10) + 1.5; if (d < 0) d = -d
  printf "%.2f", 50 + (s % 4000) / 100 - 5 * d }')

for step in 1 2 3; do
  [ -e "$SYLVA_STOP_FILE" ] && exit 0   # pruned: Sylva wants us to stop
  acc=$(awk -v a="$score" -v k="$step" 'BEGIN { printf "%.2f", a * (0.7 + 0.1 * k) }')  # 80%, 90%, 100%
  # 2. Report an intermediate value.
  echo "{\"step\": $step, \"val_acc\": $acc}" >> "$SYLVA_REPORT"
done

# 3. Finish with the final metrics.
echo "{\"final\": true, \"val_acc\": $score}" >> "$SYLVA_REPORT"
