#!/usr/bin/env bash
# The one script to run when a GPU is lent: at most DEADLINE seconds (default 480; give the
# device tool's call a limit of 540, which leaves the start-up and a short rerun within 15
# minutes of device time). Each step has its own time limit and writes its JSON as soon as
# it finishes, so a step cut off leaves the others' results:
#   1. fgssl bench, ResNet-18, both data paths, 2 loader workers pinned to 2 CPU cores (a
#      Colab machine): end to end / model alone — at 224 px (the full profile) on the GPU's
#      own precision path, then at 96 px (the gpu profile, the notebooks') on a T4's (fp16
#      with a gradient scaler, benchmarks/force_fp16.py);
#   2. a short SimCLR run through fit() at the gpu profile's 96 px, on the T4's path;
#   3. torchrun, 1 process on NCCL, the ci profile: the distributed path;
#   4. on the T4's path, every method's step at the gpu profile against its FLOPs times the
#      rate of the reference workload (benchmarks/flop_rate_check.py): the correction for the
#      T4 table; then every notebook training run's steps timed (benchmarks/
#      notebook_gpu_times.py --measure) beside the T4 estimate from FLOPs;
#   5. notebook 05 (at most 4 minutes), then 06 with what is left of DEADLINE, top to
#      bottom under FGSSL_PROFILE=gpu with nbclient, each cell timed (notebook_times.py).
# JSON and logs go to $OUT (the device tool's), else runs/gpu_session; SynthBirds is rendered
# once into $DIR/data for every step.
#
# Usage: benchmarks/gpu_session.sh [--quick]   (--quick: tiny sizes, to try it on a CPU)
set -uo pipefail
cd "$(dirname "$0")/.."
DIR=${OUT:-runs/gpu_session} DEADLINE=${DEADLINE:-480}
PYTHON=${PYTHON:-python3}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 FGSSL_DATA="$DIR/data"
mkdir -p "$DIR"
if [[ ${1:-} == --quick ]]; then
    BENCH=(--profile ci --steps 2 --backbone small_cnn); NOTEBOOK_BENCH=("${BENCH[@]}")
    RUN=(--size 32 --images 128 --batch 32
    --backbone small_cnn --epochs 1); PROFILE=ci
    CHECK=(--methods simclr jigsaw --reference-size 32)
else
    BENCH=(--profile full --steps 20 --backbone resnet18)
    NOTEBOOK_BENCH=(--profile gpu --steps 20 --backbone resnet18)
    RUN=(--size 96 --images 4096 --batch 256 --epochs 2)
    PROFILE=gpu; CHECK=()
fi
pinned() { if command -v taskset > /dev/null; then taskset -c 0,1 "$@"; else "$@"; fi; }
step() {  # step NAME SECONDS COMMAND...: run it with a limit, say how it ended
    local name=$1 limit=$2; shift 2
    echo "== $name (at most $limit s)"
    local begun=$SECONDS
    timeout "$limit" "$@"; local status=$?
    echo "{\"step\": \"$name\", \"status\": $status, \"seconds\": $((SECONDS - begun))}" \
        | tee -a "$DIR/steps.jsonl"
}

$PYTHON -c "import torch; print('torch', torch.__version__, '| cuda:', torch.cuda.is_available() and torch.cuda.get_device_name())" \
    | tee "$DIR/device.txt"
step bench-full-native 35 bash -c "$(declare -f pinned); pinned $PYTHON -m fgssl bench \
    ${BENCH[*]} --workers 2 --json | tail -n 1 > $DIR/bench_full_native.json"
step bench-gpu-fp16 35 bash -c "$(declare -f pinned); pinned $PYTHON benchmarks/force_fp16.py \
    -m fgssl bench ${NOTEBOOK_BENCH[*]} --workers 2 --json | tail -n 1 \
    > $DIR/bench_gpu_fp16.json"
step simclr-fp16 30 $PYTHON benchmarks/force_fp16.py benchmarks/simclr_run.py "${RUN[@]}" \
    --out "$DIR/simclr_fp16.json"
step torchrun 35 env FGSSL_RUNS="$DIR/runs" $PYTHON -m torch.distributed.run --standalone \
    --nproc_per_node 1 -m fgssl pretrain simclr --data synthbirds --profile ci \
    --out "$DIR/runs/ddp"
step flop-rate-fp16 75 bash -c "$PYTHON benchmarks/force_fp16.py benchmarks/flop_rate_check.py \
    --profile $PROFILE ${CHECK[*]} > $DIR/flop_rate_fp16.jsonl"
$PYTHON benchmarks/notebook_gpu_times.py --profile $PROFILE > "$DIR/notebook_runs_t4_estimate.json"
step notebook-runs 60 bash -c "$PYTHON benchmarks/force_fp16.py benchmarks/notebook_gpu_times.py \
    --profile $PROFILE --measure > $DIR/notebook_runs_measured.json"
for number in 05 06; do  # what is left of the deadline; 06 only if a minute or more is
    left=$((DEADLINE - SECONDS - 5)); [[ $number == 05 ]] && (( left > 240 )) && left=240
    (( left < 60 )) && { echo "== notebook-$number skipped: ${left} s left"; continue; }
    step "notebook-$number" "$left" bash -c "$PYTHON benchmarks/notebook_times.py --profile \
        $PROFILE --only $number --timeout $left | tail -n 1 > $DIR/notebook_$number.json"
done
echo "== done in $SECONDS s: $DIR"
