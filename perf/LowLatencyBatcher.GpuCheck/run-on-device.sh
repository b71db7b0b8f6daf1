#!/usr/bin/env bash
# Runs the GPU check on a machine with an NVIDIA GPU and a Python PyTorch install (CUDA build), with a time limit,
# and writes its JSON report to $OUT (default: artifacts/gpu-check-out).
#
# The check is published here first, self-contained (the GPU machine needs no .NET):
#   dotnet publish perf/LowLatencyBatcher.GpuCheck -c Release -o artifacts/gpu-check
# then this script runs there from the repository root:
#   bash perf/LowLatencyBatcher.GpuCheck/run-on-device.sh [extra check arguments]
# Settings: GPU_CHECK_BIN (the published program), GPU_CHECK_TIMEOUT (seconds, default 300), PYTHON (default python3).
set -uo pipefail
cd "$(dirname "$0")/../.."

bin=${GPU_CHECK_BIN:-artifacts/gpu-check/LowLatencyBatcher.GpuCheck}
limit=${GPU_CHECK_TIMEOUT:-300}
python=${PYTHON:-python3}
out=${OUT:-artifacts/gpu-check-out}
mkdir -p "$out"

if [ ! -f "$bin" ]; then
  echo "run-on-device: $bin is missing: publish it first (dotnet publish perf/LowLatencyBatcher.GpuCheck -c Release -o artifacts/gpu-check)" >&2
  exit 2
fi
# A copy made without file modes loses the executable bit.
[ -x "$bin" ] || chmod +x "$bin" "$(dirname "$bin")"/createdump 2>/dev/null || true

# Where PyTorch is, without importing it (an import would load CUDA in the Python process for nothing).
torch_dir=$("$python" -c 'import importlib.util as u; s = u.find_spec("torch"); print(s.submodule_search_locations[0] if s else "")' 2>/dev/null)
if [ -z "$torch_dir" ] || [ ! -d "$torch_dir/lib" ]; then
  echo "run-on-device: no PyTorch found for $python (set PYTHON to the interpreter that has it)" >&2
  exit 2
fi
site=$(dirname "$torch_dir")

# torch/lib, then every pip CUDA library folder (cu12: nvidia/<name>/lib; cu13: nvidia/cu13/lib and nvidia/<name>/lib).
paths="$torch_dir/lib"
for lib in "$site"/nvidia/*/lib; do
  [ -d "$lib" ] && paths="$paths:$lib"
done
export LD_LIBRARY_PATH="$paths${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

{
  echo "torch: $torch_dir"
  grep -h "^__version__\|^cuda" "$torch_dir/version.py" 2>/dev/null
  echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
} > "$out/environment.txt" 2>&1
cat "$out/environment.txt" >&2

timeout --kill-after=10 "$limit" "$bin" --torch-lib "$torch_dir/lib" --out "$out/gpu-check.json" "$@" 2> >(tee "$out/gpu-check.stderr" >&2)
status=$?
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
  echo "run-on-device: the check ran past its limit of ${limit}s" >&2
fi
echo "run-on-device: exit $status; report in $out/gpu-check.json" >&2
exit "$status"
