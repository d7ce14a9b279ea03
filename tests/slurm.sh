#!/usr/bin/env bash
# `mlens run --slurm` against a real Slurm: a one-node cluster (scripts/slurm-cluster) runs the array and
# the merge of a small simulated study, and the outputs are compared byte for byte with a plain `mlens run`.
#   1. --slurm --tasks 4: merged outputs identical to the plain run's, `mlens status` complete
#   2. an array task killed (SIGKILL) while running and requeued: it resumes its shard, outputs again
#      identical, and no subject is computed twice (each "done" once across the logs)
#   3. a bad subject: its task fails, the merge still runs, names it in failures.csv and exits 4
# Usage: tests/slurm.sh MLENS_BINARY SOURCE_DIR. Exit 77 (skipped) where the daemons cannot run (not root).
set -euo pipefail
mlens=$(realpath "$1")
source_dir=$(realpath "$2")
if [[ $(id -u) != 0 ]]; then
  echo "SKIP: the Slurm test starts munged, slurmctld and slurmd, which needs root"
  exit 77
fi
templates=/usr/share/mricron/templates
[[ -f $templates/ch2bet.nii.gz ]] || { echo "missing $templates (Debian's mricron-data; scripts/setup installs it)" >&2; exit 1; }

work=$(mktemp -d /tmp/mlens-slurm-XXXXXX)
cluster=$work/cluster
cleanup() {
  "$source_dir/scripts/slurm-cluster" stop "$cluster" || true
  [[ -n ${MLENS_SLURM_KEEP:-} ]] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT
"$source_dir/scripts/slurm-cluster" start "$cluster"
export SLURM_CONF=$cluster/slurm.conf

fail() { echo "FAIL: $*" >&2; exit 1; }

# The study: 12 simulated subjects and a random MRInet on a 4 mm grid. Absolute inputs, so runs from
# different directories state the same paths.
"$mlens" simulate --out "$work/sim" --subjects 12 --age-min 60 --age-max 82 --jobs 2 2>/dev/null
"$mlens" init-model --input-shape 16,18,16 --seed 3 --out "$work/m.h5" >/dev/null
cat >"$work/m.mlens.json" <<'EOF'
{"name": "slurm-test", "members": [{"model": "m.h5"}],
 "input": {"shape": [16, 18, 16], "voxel_size": [4, 4, 4], "orientation": "RAS",
           "preprocessing": {"fit": "resample", "centre": [0, -17, 8], "normalise": "zscore"}}}
EOF
study=(--manifest "$work/m.mlens.json" --threads 1)

mkdir -p "$work/plain"
(cd "$work/plain" && "$mlens" run "${study[@]}" --cohort "$work/sim/cohort.csv" --out results >"$work/plain.log" 2>&1) || fail "plain run: $(tail -5 "$work/plain.log")"

# Submits the study from its own directory $work/$1 (same relative --out as the plain run); sets $array, $merge.
submit() {
  local name=$1 cohort=$2
  shift 2
  mkdir -p "$work/$name"
  (cd "$work/$name" && "$mlens" run "${study[@]}" --cohort "$cohort" --out results --slurm --cpus 1 "$@") >"$work/$name.submit"
  array=$(sed -n 's/^Submitted array job \([0-9]*\) and merge job \([0-9]*\).*/\1/p' "$work/$name.submit")
  merge=$(sed -n 's/^Submitted array job \([0-9]*\) and merge job \([0-9]*\).*/\2/p' "$work/$name.submit")
  [[ -n $array && -n $merge ]] || fail "$name: no job ids in: $(cat "$work/$name.submit")"
}

wait_for_job() {
  for _ in $(seq 1200); do
    [[ -z $(squeue -h -j "$1" 2>/dev/null) ]] && return 0
    sleep 0.25
  done
  squeue
  fail "job $1 did not finish within 5 minutes"
}

job_field() { scontrol show job "$1" -o | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }

# Where two files differ, decompressed: how many bytes, and the first offsets (1-based; a NIfTI-1
# header is 352 bytes, voxels follow) with both bytes in octal, to tell header from voxels.
differences() {
  local bytes
  bytes=$(cmp -l <(gzip -dcf <"$1") <(gzip -dcf <"$2") 2>/dev/null || true)
  echo " ($(wc -l <<<"$bytes") bytes differ decompressed; first: $(head -4 <<<"$bytes" | tr -s ' ' | tr '\n' ';'))"
}

# Every study output of $work/$1/results equals the plain run's (the scheduler's files aside).
same_as_plain() {
  local dir=$work/$1/results reference=$work/plain/results
  local listing
  listing() { (cd "$1" && find . -type f ! -path './slurm/*' ! -name '.mlens*' ! -name 'failures-shard-*' | sort); }
  diff <(listing "$reference") <(listing "$dir") || fail "$1: other files than the plain run"
  while read -r f; do cmp -s "$reference/$f" "$dir/$f" || fail "$1: $f differs from the plain run's$(differences "$reference/$f" "$dir/$f")"; done < <(listing "$reference")
  echo "$1: $(listing "$dir" | wc -l) files identical to the plain run's"
}

# --- 1. four tasks, merged -------------------------------------------------------------------------
submit tasks4 "$work/sim/cohort.csv" --tasks 4
wait_for_job "$merge"
[[ $(job_field "$merge" ExitCode) == 0:0 ]] || fail "tasks4: merge exit $(job_field "$merge" ExitCode): $(cat "$work/tasks4/results/slurm/logs/merge.log")"
same_as_plain tasks4
"$mlens" status --out "$work/tasks4/results" >"$work/status.txt" || fail "tasks4: mlens status: $(cat "$work/status.txt")"
grep -q "12 of 12 subjects complete" "$work/status.txt" || fail "tasks4: status says $(head -1 "$work/status.txt")"

# --- 2. a running task killed and requeued -----------------------------------------------------------
# The merge is held while the task is killed and requeued: a real scheduler requeues before the
# dependency is looked at; here the test does it by hand.
submit requeue "$work/sim/cohort.csv" --tasks 2
scontrol hold "$merge"
log1=$work/requeue/results/slurm/logs/shard-1.log
for _ in $(seq 2400); do
  grep -q ": done (" "$log1" 2>/dev/null && break
  sleep 0.05
done
scancel --signal=KILL "${array}_1"
# Requeued before slurmd has forgotten the killed job, the task would be refused ("already killed"):
# wait until it has left the queue (no longer running nor completing).
for _ in $(seq 300); do
  [[ -z $(squeue -h -j "${array}_1" -o %T 2>/dev/null) ]] && break
  sleep 0.1
done
sleep 1
done_before=$(grep -c ": done (" "$log1" || true)
(( done_before < 6 )) || fail "requeue: task 1 finished all 6 subjects before it was killed; nothing was resumed"
scontrol requeue "${array}_1"
scontrol update JobId="${array}_1" StartTime=now
scontrol release "$merge"
wait_for_job "$merge"
[[ $(job_field "$merge" ExitCode) == 0:0 ]] || fail "requeue: merge exit $(job_field "$merge" ExitCode)"
grep -q "start 1" "$log1" || fail "requeue: task 1 did not run again: $(cat "$log1")"
same_as_plain requeue
computed=$(cat "$work"/requeue/results/slurm/logs/shard-*.log | sed -n 's/.*\] \(sub-[0-9]*\): done (.*/\1/p' | sort)
[[ $(echo "$computed" | wc -l) == 12 && -z $(echo "$computed" | uniq -d) ]] ||
  fail "requeue: subjects computed $(echo "$computed" | wc -l) times in all, twice: $(echo "$computed" | uniq -d | tr '\n' ' ')"
echo "requeue: task 1 killed after $done_before subject(s), resumed; each of the 12 subjects computed once"

# --- 3. a bad subject --------------------------------------------------------------------------------
head -c 300 "$work/sim/sub-007/flair.nii.gz" >"$work/truncated.nii.gz"
sed "s|^sub-007,[^,]*|sub-007,$work/truncated.nii.gz|" "$work/sim/cohort.csv" >"$work/sim/bad.csv"
grep -q truncated "$work/sim/bad.csv" || fail "bad: could not plant the bad subject"
submit bad "$work/sim/bad.csv" --tasks 4
wait_for_job "$merge"
[[ $(job_field "$merge" ExitCode) == 4:0 ]] || fail "bad: merge exit $(job_field "$merge" ExitCode), expected 4"
[[ $(job_field "$merge" JobState) == FAILED ]] || fail "bad: merge state $(job_field "$merge" JobState)"
failures=$work/bad/results/failures.csv
[[ $(tail -n +2 "$failures" | wc -l) == 1 ]] && grep -q "^sub-007,.*truncated" "$failures" || fail "bad: failures.csv: $(cat "$failures")"
[[ $(wc -l <"$work/bad/results/predictions.csv") == 12 ]] || fail "bad: predictions.csv should hold the 11 other subjects"
if "$mlens" status --out "$work/bad/results" >"$work/status.txt"; then fail "bad: status exit 0 for an incomplete cohort"; fi
grep -q "sub-007 (shard 3/4)" "$work/status.txt" || fail "bad: status does not name sub-007: $(cat "$work/status.txt")"
echo "bad: the merge ran after the failed task, named sub-007 in failures.csv and exited 4"
echo "PASS"
