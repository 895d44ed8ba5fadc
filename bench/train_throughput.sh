#!/usr/bin/env bash
# Training images/s of the built-in trainer (`--evaluator train`) against plain
# PyTorch (bench/train_throughput.py through `--evaluator command`): the same
# untrained network, recipe, augmentation and synthetic CIFAR-format data, on
# this machine, one run each.
#
#   bash bench/train_throughput.sh [BUILD_DIR] [--device cpu|cuda] [--threads "1 2"]
#                                  [--reference-images N] [--resnet-images N]
#
# Models: the NAS-Bench-Macro reference candidate (every layer mbconv_e3_k3, the
# grammar of bench/run_all.sh section 1) and einspace's ResNet-18 seed
# (spaces/grammar/seeds/resnet18.arch, evaluated first by --strategy evolution
# --init), at 3x32x32. Recipe (both sides): one epoch of N images (N a multiple of
# 128), batch 128, SGD Nesterov 0.9, wd 5e-4, lr 0.05 cosine per step, cross
# entropy, --augment crop,flip,cutout, then 500 validation and 100 test images.
#
# images/s = N / train_seconds, and train_seconds is, on both sides, the span
# from building (Sylva) or loading (PyTorch) the network to the end of the test
# pass: the epoch plus the forward passes of 600 evaluation images. The PyTorch
# script also reports the epoch + validation alone (loop_seconds). data_wait is
# Sylva's data_wait_share (next() waiting on the loader thread over the loop)
# and the script's time preparing batches over its loop (it is synchronous).
set -euo pipefail
build=build
device=cpu
threads_list="1 2"
ref_n=""
resnet_n=""
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then build=$1; shift; fi
while [ $# -gt 0 ]; do
  case $1 in
    --device) device=$2; shift 2 ;;
    --threads) threads_list=$2; shift 2 ;;
    --reference-images) ref_n=$2; shift 2 ;;
    --resnet-images) resnet_n=$2; shift 2 ;;
    *) echo "train_throughput.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
# A GPU trains the 10,000 images in seconds: use them all (less the 500
# validation images, rounded down to whole batches).
if [ "$device" = cpu ]; then ref_n=${ref_n:-1280}; resnet_n=${resnet_n:-1024}
else ref_n=${ref_n:-9472}; resnet_n=${resnet_n:-9472}; fi
for n in $ref_n $resnet_n; do
  if [ $((n % 128)) -ne 0 ] || [ "$n" -lt 128 ] || [ "$n" -gt 9500 ]; then
    echo "train_throughput.sh: $n images: a multiple of 128 from 128 to 9,472" >&2; exit 2
  fi
done

py=/usr/bin/python3  # Debian's python3-torch, the LibTorch 1.13 Sylva links
sylva=$(realpath "$build/sylva")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/sylva-throughput-XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# torch (python): $($py -c 'import torch; print(torch.__version__)'), device $device"
echo "# load before: $(uptime | sed 's/.*load average/load average/')"

"$py" "$here/make_cifar_like.py" "$work/data" --train 10000 --test 1000 2> /dev/null
sed -e 's/^layer -> .*/layer -> "mbconv_e3_k3"/' "$here/../spaces/grammar/grammars/nas-bench-macro.grammar" \
  > "$work/reference.grammar"

# metric NAME of trial 0 of experiment EXP in DB.
metric() {
  "$sylva" trials --name "$2" --db "$3" -f json |
    "$py" -c 'import json, sys; print(json.load(sys.stdin)[0].get(sys.argv[1], "nan"))' "$1"
}

rows=()
for model in reference resnet18; do
  if [ $model = reference ]; then
    n=$ref_n; space=(--space "$work/reference.grammar")
  else
    n=$resnet_n; space=(--space einspace --strategy evolution --init "$here/../spaces/grammar/seeds/resnet18.arch")
  fi
  for threads in $threads_list; do
    common=(--trials 1 --workers 1 --threads-per-worker "$threads" --seed 1)
    rm -rf "$work/s.db"* "$work/p.db"*
    "$sylva" search --name s --db "$work/s.db" "${space[@]}" "${common[@]}" --evaluator train \
      --dataset "$work/data" --augment crop,flip,cutout --device "$device" --epochs 1 \
      --train-samples "$n" --val-samples 500 --test-samples 100 > "$work/s.out" 2>&1 ||
      { cat "$work/s.out" >&2; exit 1; }
    "$sylva" search --name p --db "$work/p.db" "${space[@]}" "${common[@]}" --evaluator command \
      --input-shape 3,32,32 --classes 10 \
      --command "$py $here/train_throughput.py --data $work/data --train-images $n --val-images 500 --test-images 100 --augment crop,flip,cutout --device $device" \
      > "$work/p.out" 2>&1 || { cat "$work/p.out" >&2; exit 1; }
    state=$(metric state p "$work/p.db")
    if [ "$state" != COMPLETE ]; then
      echo "train_throughput.sh: the PyTorch trial is $state:" >&2
      cat "$work"/p.db.trials/p/0/stderr.log >&2; exit 1
    fi
    s_sec=$(metric train_seconds s "$work/s.db")
    p_sec=$(metric train_seconds p "$work/p.db")
    rows+=("$(printf '%-9s %7d %6d %9.1f %9.1f %11.1f %11.1f %6.2f %10.3f %10.3f %8.1f' \
      $model "$threads" "$n" "$s_sec" "$p_sec" \
      "$(echo "$n / $s_sec" | bc -l)" "$(echo "$n / $p_sec" | bc -l)" \
      "$(echo "$p_sec / $s_sec" | bc -l)" \
      "$(metric data_wait_share s "$work/s.db")" "$(metric data_wait_share p "$work/p.db")" \
      "$(echo "$(metric flops s "$work/s.db") / 1000000" | bc -l)")")
    echo "${rows[-1]}" >&2  # progress
  done
done
echo "# load after: $(uptime | sed 's/.*load average/load average/')"
echo
echo "## training throughput: built-in trainer vs PyTorch, one epoch + 600 evaluation images"
printf '%-9s %7s %6s %9s %9s %11s %11s %6s %10s %10s %8s\n' model threads images \
  sylva_s torch_s sylva_img/s torch_img/s ratio sylva_wait torch_wait MMACs
printf '%s\n' "${rows[@]}"
echo "(ratio: Sylva's images/s over PyTorch's; wait: share of the loop waiting for data;"
echo " MMACs: multiply-accumulates per image as Sylva counts them)"
