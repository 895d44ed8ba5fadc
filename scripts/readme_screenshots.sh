#!/bin/sh
# Makes the README's pictures of `sylva report` from real searches: a
# two-objective NSGA-II search of the NAS-Bench-Macro table on two workers, a
# random search of the nb201 cell space (stub evaluator) for a cell drawing
# and a successive-halving search for learning curves; then the report,
# opened in headless chromium, one PNG per panel into docs/img/.
#   scripts/readme_screenshots.sh [path/to/sylva]
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
sylva=${1:-$repo/build/sylva}
table=$repo/../shared/benchmarks/nas-bench-macro-cifar10.csv
out=$repo/docs/img
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
db=$scratch/r.db

"$sylva" search --name nsga2 --db "$db" --space nas-bench-macro --evaluator table --table "$table" \
  --metric test_acc_mean --strategy nsga2 --objective test_acc_mean:max --objective params:min \
  --trials 300 --workers 2 --seed 1 > /dev/null
"$sylva" search --name cells --db "$db" --space nb201 --evaluator stub --trials 50 --seed 2 > /dev/null
"$sylva" search --name halving --db "$db" --evaluator stub --fidelity epochs --min-epochs 1 \
  --max-epochs 27 --eta 3 --trials 81 --seed 3 > /dev/null
"$sylva" report --db "$db" --name nsga2 --name cells --name halving --out "$scratch/report.html"

# e0: nsga2, e1: cells, e2: halving (the order given).
mkdir -p "$out"
steps=$(cat <<JSON
[{"open": "file://$scratch/report.html"},
 {"wait": "window.SylvaPage && SylvaPage.rendered", "timeout": 60},
 {"screenshot": "$out/report-history.png", "element": "#e0-history"},
 {"screenshot": "$out/report-pareto.png", "element": "#e0-pareto"},
 {"screenshot": "$out/report-importance.png", "element": "#e0-importance"},
 {"screenshot": "$out/report-architecture.png", "element": "#e0-best .best"},
 {"screenshot": "$out/report-cell.png", "element": "#e1-best .best"},
 {"screenshot": "$out/report-curves.png", "element": "#e2-curves"},
 {"screenshot": "$out/report-timeline.png", "element": "#e0-timeline"},
 {"eval": "JSON.stringify(SylvaPage.errors)", "as": "errors"}]
JSON
)
result=$(/usr/bin/python3 "$repo/tests/browser/page_check.py" "$steps")
echo "$result"
case "$result" in
  *'"failure"'*|*'"errors": ["'*) echo "the page did not render cleanly" >&2; exit 1 ;;
esac
ls -l "$out"
