#!/usr/bin/env bash
# Every GPU measurement of fgssl in one call (its run time on a GPU is not measured yet: give it
# the device tool's 10-minute limit):
#   1. fgssl bench for ResNet-18 and ResNet-50 at 224 px, both data paths, 2 DataLoader
#      workers, the whole process pinned to 2 CPU cores (a Colab machine's 2 vCPUs); ResNet-18
#      at the full profile's batch, so its peak memory is the full profile's;
#   2. a short SimCLR run through fit() on SynthBirds at 112 px (GPU data path);
#   3. torchrun on the GPU (NCCL), 1 process, the ci profile: the distributed path;
#   4. BYOL, VICReg and DINO, one ci-profile epoch each on the GPU (AMP, the GPU data path);
# then a table with the acceptance checks. JSON and logs go to $GPU_CHECK_OUT (default $OUT,
# else runs/gpu_check).
#
# Usage: benchmarks/gpu_check.sh [--quick]    (--quick: tiny sizes, to try the script on a CPU)
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${GPU_CHECK_OUT:-${OUT:-runs/gpu_check}}
PYTHON=${PYTHON:-python3}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
mkdir -p "$DIR"

if [[ ${1:-} == --quick ]]; then
    BENCH=(--profile ci --size 32 --steps 2); RUN=(--size 32 --images 128 --batch 32
    --backbone small_cnn)
else
    BENCH=(--profile full --steps 20); RUN=(--size 112 --images 4096 --batch 256)
fi
pinned() { if command -v taskset > /dev/null; then taskset -c 0,1 "$@"; else "$@"; fi; }

$PYTHON -c "import torch; print('torch', torch.__version__, '| cuda:', torch.cuda.is_available() and torch.cuda.get_device_name())"
for backbone in resnet18 resnet50; do
    echo "== fgssl bench --backbone $backbone"
    pinned $PYTHON -m fgssl bench "${BENCH[@]}" --backbone "$backbone" --workers 2 --json \
        | tee "$DIR/bench_$backbone.log"
    tail -n 1 "$DIR/bench_$backbone.log" > "$DIR/bench_$backbone.json"
done
echo "== SimCLR run"
$PYTHON benchmarks/simclr_run.py "${RUN[@]}" --out "$DIR/simclr_run.json"
echo "== torchrun, 1 process"
FGSSL_RUNS="$DIR/runs" $PYTHON -m torch.distributed.run --standalone --nproc_per_node 1 \
    -m fgssl pretrain simclr --data synthbirds --profile ci --out "$DIR/runs/ddp" 2>&1 \
    | tail -n 3 | tee "$DIR/torchrun.log"
echo "== BYOL, VICReg, DINO: one ci epoch each"
for method in byol vicreg dino; do
    FGSSL_RUNS="$DIR/runs" $PYTHON -m fgssl pretrain "$method" --data synthbirds --profile ci \
        --out "$DIR/runs/$method" 2>&1 | tail -n 1 | tee "$DIR/$method.log"
done
echo "== table"
$PYTHON benchmarks/gpu_check_table.py "$DIR" | tee "$DIR/table.txt"
