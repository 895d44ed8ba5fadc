#!/usr/bin/env bash
# Sylva's benchmarks: each prints its figures; BENCHMARKS.md records them with
# this command (make bench, or bash bench/run_all.sh BUILD_DIR). Timings, not
# tests: nothing here asserts a time.
set -euo pipefail
build=${1:-build}
sylva=$(realpath "$build/sylva")
here=$(cd "$(dirname "$0")" && pwd)
table=$(realpath "$here/../../shared/benchmarks/nas-bench-macro-cifar10.csv")
work=$(mktemp -d /tmp/sylva-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# BLAS: $(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3)"

# Wall seconds of a command, its output discarded.
seconds() {
  local start end
  start=$(date +%s.%N)
  "$@" > "$work/last.out" 2>&1 || { cat "$work/last.out" >&2; return 1; }
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l | xargs printf '%.2f'
}

# 1. Training speed of the reference candidate: NAS-Bench-Macro with every
# layer mbconv_e3_k3 on Fashion-MNIST (1x28x28), batch 128, SGD. One epoch
# over 10,000 images, no evaluation to speak of (1 validation, 1 test image).
sed -e 's/^layer -> .*/layer -> "mbconv_e3_k3"/' "$here/../spaces/grammar/grammars/nas-bench-macro.grammar" \
  > "$work/reference.grammar"
echo
echo "## training: reference candidate, 10,000 images, one epoch"
for threads in 1 2; do
  rm -f "$work/e.db"
  "$sylva" search --name e --db "$work/e.db" --space "$work/reference.grammar" --evaluator train \
    --trials 1 --epochs 1 --train-samples 10000 --val-samples 1 --test-samples 1 \
    --threads-per-worker "$threads" --seed 1 > /dev/null
  s=$("$sylva" trials --name e --db "$work/e.db" -f csv | awk -F, 'NR==1{for(i=1;i<=NF;i++) if($i=="train_seconds") c=i} NR==2{print $c}')
  printf 'threads %d: %.1f s per 10,000 images, %.0f images/s, %.0f s per 55,000-image epoch\n' \
    "$threads" "$s" "$(echo "10000 / $s" | bc -l)" "$(echo "5.5 * $s" | bc -l)"
done

# 2. Strategy + storage overhead: the table evaluator answers in microseconds, so
# this is the experiment loop, the strategy and SQLite.
echo
echo "## table evaluator: trials/second, every trial logged to SQLite"
for n in 200 6561; do
  rm -f "$work/t.db"*
  s=$(seconds "$sylva" search --name t --db "$work/t.db" --space nas-bench-macro --evaluator table \
    --table "$table" --metric test_acc_mean --strategy random --trials "$n" --seed 3)
  printf '%5d trials: %.2f s, %.0f trials/s\n' "$n" "$s" "$(echo "$n / $s" | bc -l)"
done

# 3. Workers: small candidates (stem 16, two stages) trained on 2,000 images
# for one epoch, 8 trials, with the cores split between workers or not.
cat > "$work/small.grammar" <<'G'
%builder chain
%stem 16
%stages 2 2
net -> layer layer layer layer
layer -> "identity" | "conv3x3" | "mbconv_e3_k3" | "dwsep_conv_3x3"
G
echo
echo "## workers: 8 small trials (2,000 images, 1 epoch, 1,000 validation, 1,000 test)"
for cfg in "1 $(nproc)" "2 1" "2 $(nproc)"; do
  set -- $cfg
  rm -f "$work/w.db"*
  s=$(seconds "$sylva" search --name w --db "$work/w.db" --space "$work/small.grammar" \
    --evaluator train --trials 8 --train-samples 2000 --val-samples 1000 --test-samples 1000 \
    --workers "$1" --threads-per-worker "$2" --seed 2)
  printf 'workers %d x threads %d: %.1f s, %.1f trials/min\n' "$1" "$2" "$s" "$(echo "480 / $s" | bc -l)"
done

# 4. Search efficiency on the NAS-Bench-Macro table (in process, no database).
echo
echo "## search efficiency: NAS-Bench-Macro, 50 seeds x 200 trials, best test_acc_mean"
engines="random evolution:population=10,sample-size=3 evolution mcts nsga2 tpe
  evolution:predictor=ridge evolution:predictor=mlp tpe:predictor=mlp"
"$build/search_efficiency" "$table" test_acc_mean 50 200 $engines
# The same engines and defaults on a landscape they were not tuned on: a
# synthetic table over the 15,625 nb201 cells (bench/make_nb201_surrogate.py).
echo
echo "## search efficiency: synthetic nb201 surrogate, 50 seeds x 200 trials, best acc"
python3 "$(dirname "$0")/make_nb201_surrogate.py" "$work/nb201-surrogate.csv"
"$build/search_efficiency" --space nb201 "$work/nb201-surrogate.csv" acc 50 200 $engines

# 5. Strategy overhead: ask + tell on a 20-decision space, strategy alone.
echo
echo "## strategy overhead: ask + tell on a 20-decision space (items_per_second = trials/s)"
"$build/strategy_overhead" --benchmark_format=console 2>/dev/null | grep '^BM_'

# 6. End to end with the database: 10,000 trials on the 20-decision space,
# stub evaluator, every trial logged to SQLite.
{
  printf 'net ->'; for i in $(seq 20); do printf ' layer'; done; echo
  echo 'layer -> "conv3x3" | "conv1x1" | "skip" | "dwsep_conv_3x3"'
} > "$work/twenty.grammar"
echo
echo "## end to end: 10,000 trials, 20-decision space, stub evaluator, SQLite"
for strategy in random evolution mcts tpe; do
  rm -f "$work/z.db"*
  s=$(seconds "$sylva" search --name z --db "$work/z.db" --space "$work/twenty.grammar" \
    --evaluator stub --strategy "$strategy" --trials 10000 --seed 1)
  printf '%-10s %.2f s, %.0f trials/s\n' "$strategy" "$s" "$(echo "10000 / $s" | bc -l)"
done

# 7. einspace: sampling at P(M -> C) = 0.32 and 0.5 for two inputs (valid
# architectures per second, time and size per sample, how many a budget
# shaped), then mutation from each seed architecture.
echo
echo "## einspace: sampling 2,000 architectures per setting, 200 mutations per seed"
"$build/einspace_sampling" 2000 "$here/../spaces/grammar/seeds"

# 9. Several processes on one experiment, SQLite and PostgreSQL (a private
# server): trials/s with 1, 4 and 16 processes through the table evaluator,
# and the time from a worker's death (SIGKILL) or hang (SIGSTOP) to its trial
# running elsewhere.
echo
echo "## workers on many processes: sylva search + sylva worker"
"$build/workers_cluster" "$sylva" "$table" 2000 6

# 10. The command evaluator: overhead per trial with a command that reports at
# once (evaluate() alone, then `sylva search` with 1 and 2 workers; with and
# without model.pt), and the reference candidate trained on 10,000
# Fashion-MNIST images for one epoch by the built-in trainer and by
# examples/train_fashion_mnist.py through the command evaluator (one thread
# each, batch 128, SGD lr 0.05 cosine).
echo
echo "## command evaluator: overhead per trial"
"$build/command_overhead" "$sylva" 200
echo
echo "## command evaluator: the reference candidate, built-in trainer vs examples/train_fashion_mnist.py"
rm -f "$work/b.db" "$work/c.db"
"$sylva" search --name b --db "$work/b.db" --space "$work/reference.grammar" --evaluator train \
  --trials 1 --epochs 1 --train-samples 10000 --val-samples 2000 --test-samples 1 \
  --threads-per-worker 1 --seed 1 > /dev/null
"$sylva" search --name c --db "$work/c.db" --space "$work/reference.grammar" --evaluator command \
  --command "/usr/bin/python3 $here/../examples/train_fashion_mnist.py --train-images 10000 --val-images 2000 --epochs 1" \
  --trials 1 --threads-per-worker 1 --seed 1 > /dev/null
for e in b c; do
  "$sylva" trials --name $e --db "$work/$e.db" -f csv |
    awk -F, -v who=$e 'NR==1{for(i=1;i<=NF;i++){if($i=="train_seconds")t=i; if($i=="val_acc")v=i}}
      NR==2{printf "%s: %.1f s, val_acc %.1f\n", (who=="b"?"built-in train evaluator":"command evaluator + example script"), $t, $v}'
done

# 8. Supernets (about 1.5 hours on 2 cores; only with SYLVA_BENCH_SUPERNETS=1):
# once-for-all schedules at an equal epoch budget against standalone training,
# the sorted family's nested ladder against standalone, and subnet search with
# and without a predictor. One torch thread each, so two can run side by side.
if [ "${SYLVA_BENCH_SUPERNETS:-0}" = 1 ]; then
  echo
  echo "## supernets: schedules, sorted ladder, predictor-assisted search"
  OMP_NUM_THREADS=1 "$build/supernet_schedules" 4000 3 2000 20
  OMP_NUM_THREADS=1 "$build/sorted_ladder" 4000 3 2000
  OMP_NUM_THREADS=1 "$build/predictor_search" "" 30 3
fi

# 11. The integrity check on open (PRAGMA quick_check) of a database of
# 10,000 and 100,000 finished trials, against Store::open read-write and
# read-only (both include it).
echo
"$build/open_check" 10000
"$build/open_check" 100000

# 12. `sylva report` and `sylva dashboard` at 1,000, 10,000 and 100,000
# table-evaluator trials (two objectives, 3 workers, ~3% failed, a few
# re-queued): load, model, page and its size in process, `sylva report` wall
# time, the dashboard refresher's reads (the first, after one more trial
# finished, unchanged) and Dashboard::get of each data endpoint.
echo
"$build/report_scale" "$sylva" 1000 10000 100000

# 13. The built-in trainer against plain PyTorch: images/s of one epoch (plus
# 500 validation and 100 test images) of the reference candidate and the
# einspace ResNet-18 seed on synthetic CIFAR-format data, --augment
# crop,flip,cutout, 1 and 2 threads; the PyTorch side is
# bench/train_throughput.py through the command evaluator (about 9 minutes on
# 2 cores; pass --device cuda to the script on a GPU machine).
echo
bash "$here/train_throughput.sh" "$build"
