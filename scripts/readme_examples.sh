#!/bin/sh
# Reruns the README's examples that take seconds (table searches, sample,
# the reports) in a scratch directory and prints each command with what it
# printed, as the README shows them: compare, and paste where they differ.
# The examples that train (minutes each) are rerun by hand.
#   scripts/readme_examples.sh [path/to/sylva]
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
sylva=${1:-$repo/build/sylva}
table=$repo/../shared/benchmarks/nas-bench-macro-cifar10.csv
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"

show() {
  echo "\$ sylva $*"
  "$sylva" "$@" 2>&1 || echo "(exit $?)"
  echo
}

cat > my.grammar <<'GRAMMAR'
# my.grammar: 4 or 6 layers, conv-heavy
%builder chain
%stem 16
%head 256
net   -> block block | block block block   [0.4]
block -> layer layer
layer -> "conv3x3" | "dwsep_conv_3x3" | "mbconv_e3_k3"
      |  "identity"                        [0.1]
GRAMMAR

rm -f /tmp/t.db /tmp/t.db-wal /tmp/t.db-shm
echo "\$ sylva search --name t --db /tmp/t.db --space nas-bench-macro --evaluator table \\"
echo "    --table ../shared/benchmarks/nas-bench-macro-cifar10.csv --metric test_acc_mean \\"
echo "    --strategy random --trials 200 --seed 3"
echo "..."
"$sylva" search --name t --db /tmp/t.db --space nas-bench-macro --evaluator table \
  --table "$table" --metric test_acc_mean --strategy random --trials 200 --seed 3 | tail -5
echo
rm -f /tmp/t.db /tmp/t.db-wal /tmp/t.db-shm
show sample --space my.grammar -n 2 --seed 1
show sample --space nas-bench-macro -n 2 --seed 1 -f csv
"$sylva" search --name demo --db s.db --space nas-bench-macro --evaluator table --table "$table" \
  --metric test_acc_mean --trials 20 --seed 1 > /dev/null
show best --name demo --db s.db -n 2
show status --db s.db
show --version
