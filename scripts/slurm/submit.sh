#!/usr/bin/env bash
# Scans media on a Slurm cluster: one command submits the scan array and the merge job after it.
#
#   scripts/slurm/submit.sh --tasks N --out DIR [options] [--] [SCAN OPTIONS] PATHS...
#       Submits an N-task array (scan-array.sbatch: each task scans its share of PATHS into its
#       own journal, DIR/journals/shard-K.sqlite) and the merge (merge.sbatch) with
#       --dependency=afterok on the array: it writes DIR/report.json and DIR/html/index.html.
#   scripts/slurm/submit.sh --out DIR --resubmit K[,K...]|failed [--wait]
#       Resubmits tasks of DIR's batch alone (same inputs, options and environment); each resumes
#       from its journal. A new merge follows them. `failed`: every task without a good exit.
#   scripts/slurm/submit.sh --out DIR --wait
#       Waits for DIR's latest submission and says how each task and the merge ended.
#
# Options:
#   --tasks N            tasks in the array (shards of the inputs)
#   --out DIR            the batch's folder, new or empty, on storage every node shares. It holds
#                        journals/ (with face crops: biometric data, so DIR is made private,
#                        0700), logs/, the reports, and batch.conf (what --resubmit reuses)
#   --gallery G          gallery (default: $CLEARSHOT_GALLERY or clearshot's default); read in
#                        place by every task, never copied (see scan-array.sbatch)
#   --models DIR         models folder (default: $CLEARSHOT_MODELS or clearshot's search)
#   --bin PATH           clearshot binary (default: $CLEARSHOT_BIN, clearshot on PATH, or this
#                        checkout's target/release/clearshot)
#   --partition P        --time T        passed to sbatch for both jobs
#   --cpus-per-task C    cores per task (default 1); each task scans C files at once (--jobs C)
#   --sbatch-arg ARG     any other sbatch option for both jobs (repeat it), e.g. --sbatch-arg=--account=vfx
#   --wait               return when the batch is over: exit status of the merge, as for `clearshot
#                        scan` (0 clean, 1 findings at or above --fail-on, 2 incomplete, 3 set-up)
# SCAN OPTIONS go to `clearshot scan` in every task, except the report options (--json --csv
# --edl --avid-markers --otio --html --jsonl --approvals --ai --fail-on), which go to the merge (--date
# to both: consent is judged when the reports are made); without --json and
# --html the merge writes DIR/report.json and DIR/html/. --journal, --shard and --fresh are set
# by the scripts. Relative PATHS resolve from the current folder (the jobs run there: --chdir).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
say() { echo "$*"; }
die() {
  echo "submit: error: $*" >&2
  exit 3
}
usage() {
  awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "${BASH_SOURCE[0]}" >&2
  exit 3
}
q() { printf '%q' "$1"; }
command -v sbatch >/dev/null || die "no sbatch on PATH (is this a Slurm login node? for a local test cluster: scripts/slurm/cluster.sh)"

TASKS="" OUT="" GALLERY=${CLEARSHOT_GALLERY:-} MODELS=${CLEARSHOT_MODELS:-} BIN=${CLEARSHOT_BIN:-}
CPUS=1 WAIT=0 RESUBMIT=""
SBATCH=()
while [ $# -gt 0 ]; do
  opt=$1 val=""
  case "$opt" in
    --*=*) val=${opt#*=} opt=${opt%%=*} ;;
  esac
  case "$opt" in
    --tasks | --out | --gallery | --models | --bin | --partition | --time | --cpus-per-task | --sbatch-arg | --resubmit)
      if [ -z "$val" ]; then
        [ $# -ge 2 ] || die "$opt needs a value"
        val=$2
        shift
      fi
      ;;
  esac
  case "$opt" in
    --tasks) TASKS=$val ;;
    --out) OUT=$val ;;
    --gallery) GALLERY=$val ;;
    --models) MODELS=$val ;;
    --bin) BIN=$val ;;
    --partition) SBATCH+=(--partition="$val") ;;
    --time) SBATCH+=(--time="$val") ;;
    --cpus-per-task) CPUS=$val ;;
    --sbatch-arg) SBATCH+=("$val") ;;
    --resubmit) RESUBMIT=$val ;;
    --wait) WAIT=1 ;;
    -h | --help) usage ;;
    --)
      shift
      break
      ;;
    *) break ;;
  esac
  shift
done
[ -n "$OUT" ] || usage
OUT=$(realpath -m "$OUT")
J=$OUT/journals
CONF=$OUT/batch.conf
SELF="$(q "$0") --out $(q "$OUT")"

# Jobs still in the queue (pending, running, completing): "ID STATE REASON" lines.
queue() { squeue -h -o '%i %T %r' 2>/dev/null; }

# The batch's array tasks still queued, as task ids (a pending array shows as A_[0-2,5%2]).
active_tasks() {
  local line id spec part
  while read -r line; do
    id=${line%% *}
    for a in $ARRAYS; do
      case "$id" in
        "${a}_["*)
          spec=${id#"${a}_["}
          spec=${spec%%]*}
          spec=${spec%%%*}
          for part in ${spec//,/ }; do
            if [[ $part == *-* ]]; then seq "${part%-*}" "${part#*-}"; else echo "$part"; fi
          done
          ;;
        "${a}_"*) echo "${id#"${a}_"}" ;;
      esac
    done
  done < <(queue) | sort -un
}

task_ok() { # task_ok K: the task's last run ended with clearshot exit 0 or 1
  local rc
  rc=$(cat "$J/shard-$1.exit" 2>/dev/null) || return 1
  [ "$rc" = 0 ] || [ "$rc" = 1 ]
}

# submit_jobs ARRAY_SPEC [DEPENDENCY_EXTRA]: the array, then the merge after it (ARRAY, MERGE).
submit_jobs() {
  local spec=$1 extra=${2:-}
  export CLEARSHOT_JOURNALS=$J CLEARSHOT_SHARDS=$TASKS CLEARSHOT_BIN=$BIN CLEARSHOT_GALLERY=$GALLERY
  # As at the first submission: a resubmitted task must find the same models (the merge refuses
  # shards made with other ones).
  if [ -n "$MODELS" ]; then export CLEARSHOT_MODELS=$MODELS; else unset CLEARSHOT_MODELS; fi
  if [ -n "${ORT:-}" ]; then export ORT_DYLIB_PATH=$ORT; else unset ORT_DYLIB_PATH; fi
  rm -f "$J/merge.exit"
  ARRAY=$(sbatch --parsable --array="$spec" --cpus-per-task="$CPUS" --chdir="$WORKDIR" \
    --output="$OUT/logs/scan-%A_%a.log" "${SBATCH[@]}" "$HERE/scan-array.sbatch" "${SCAN_ARGS[@]}") ||
    die "sbatch of the scan array failed"
  ARRAY=${ARRAY%%;*}
  MERGE=$(sbatch --parsable --dependency="afterok:$ARRAY$extra" --kill-on-invalid-dep=yes \
    --chdir="$WORKDIR" --output="$OUT/logs/merge-%j.log" "${SBATCH[@]}" \
    "$HERE/merge.sbatch" "${MERGE_ARGS[@]}") || {
    scancel "$ARRAY" 2>/dev/null || true
    die "sbatch of the merge failed (the array $ARRAY was cancelled)"
  }
  MERGE=${MERGE%%;*}
  echo "$ARRAY $spec $MERGE" >>"$OUT/jobs"
}

# Waits for the latest submission, then says how every task and the merge ended. Returns the
# merge's clearshot exit status, or 2 when it did not run.
wait_batch() {
  local array spec merge q fails=0 k rc bad=()
  read -r array spec merge < <(tail -n1 "$OUT/jobs")
  while :; do
    if ! q=$(queue); then
      fails=$((fails + 1))
      [ $fails -lt 60 ] || die "squeue has not answered for a minute"
      sleep 1
      continue
    fi
    fails=0
    if ! grep -q "^${array}_" <<<"$q"; then
      grep -q "^$merge " <<<"$q" || break
      # Without kill_invalid_depend a merge whose afterok failed pends forever.
      if grep -q "^$merge .*DependencyNeverSatisfied" <<<"$q"; then
        scancel "$merge" 2>/dev/null || true
        break
      fi
    fi
    sleep 1
  done
  for ((k = 0; k < TASKS; k++)); do
    rc=$(cat "$J/shard-$k.exit" 2>/dev/null) || rc=""
    case "$rc" in
      0) say "task $k: done, clean" ;;
      1) say "task $k: done, with findings" ;;
      "")
        say "task $k: FAILED: no exit status (killed, cancelled, timed out, or never started); see $OUT/logs/scan-*_$k.log"
        bad+=("$k")
        ;;
      *)
        say "task $k: FAILED: clearshot exit $rc; see $OUT/logs/scan-*_$k.log"
        bad+=("$k")
        ;;
    esac
  done
  if rc=$(cat "$J/merge.exit" 2>/dev/null); then
    say "merge: clearshot exit $rc ($(case $rc in 0) echo clean ;; 1) echo "findings at or above --fail-on" ;; 2) echo "incomplete: inputs missing or failed, see $OUT/logs/merge-$merge.log" ;; *) echo "error, see $OUT/logs/merge-$merge.log" ;; esac)); reports: ${REPORTS[*]}"
    return "$rc"
  fi
  say "merge: did not run (job $merge: a task failed or was cancelled)"
  [ ${#bad[@]} -eq 0 ] || say "resubmit: $SELF --resubmit $(
    IFS=,
    echo "${bad[*]}"
  )   (each resumes from its journal; a new merge follows)"
  return 2
}

if [ -n "$RESUBMIT" ] || { [ $WAIT = 1 ] && [ -z "$TASKS" ] && [ $# -eq 0 ]; }; then
  # An existing batch: everything comes from its batch.conf.
  [ -f "$CONF" ] || die "$OUT holds no batch (no batch.conf)"
  # shellcheck source=/dev/null
  source "$CONF"
  ARRAYS=$(awk '{print $1}' "$OUT/jobs" | tr '\n' ' ')
  if [ -z "$RESUBMIT" ]; then
    wait_batch
    exit $?
  fi
  active=$(active_tasks | tr '\n' ' ')
  if [ "$RESUBMIT" = failed ]; then
    [ -z "$active" ] || die "tasks $active of this batch are still queued or running; wait ($SELF --wait) or name the tasks"
    list=()
    for ((k = 0; k < TASKS; k++)); do task_ok "$k" || list+=("$k"); done
    [ ${#list[@]} -gt 0 ] || die "no task of this batch failed"
    RESUBMIT=$(
      IFS=,
      echo "${list[*]}"
    )
  fi
  [[ $RESUBMIT =~ ^[0-9]+(,[0-9]+)*$ ]] || die "--resubmit takes task numbers (1 or 0,2) or failed"
  for k in ${RESUBMIT//,/ }; do
    [ "$k" -lt "$TASKS" ] || die "task $k: this batch has tasks 0..$((TASKS - 1))"
    [[ " $active " != *" $k "* ]] || die "task $k is still queued or running"
    rm -f "$J/shard-$k.exit"
  done
  # Earlier merges that can never run now are cancelled; the new merge also waits for any of
  # the batch's other tasks still running.
  extra=""
  for a in $ARRAYS; do
    if grep -q "^${a}_" <<<"$(queue)"; then extra+=":$a"; fi
  done
  [ -z "$extra" ] || extra=",afterany$extra"
  while read -r _ _ m; do
    if grep -q "^$m .*DependencyNeverSatisfied" <<<"$(queue)"; then scancel "$m" 2>/dev/null || true; fi
  done <"$OUT/jobs"
  submit_jobs "$RESUBMIT" "$extra"
  say "resubmitted: task(s) $RESUBMIT as array job $ARRAY (each resumes from its journal), merge job $MERGE after them"
  if [ $WAIT = 1 ]; then
    wait_batch
    exit $?
  fi
  say "wait: $SELF --wait"
  exit 0
fi

# A new batch.
[[ $TASKS =~ ^[1-9][0-9]*$ ]] || die "--tasks N (N >= 1) is required"
[[ $CPUS =~ ^[1-9][0-9]*$ ]] || die "--cpus-per-task takes a number >= 1"
[ $# -gt 0 ] || die "no PATHS to scan"
[ ! -e "$CONF" ] || die "$OUT holds a batch already: resubmit its failed tasks ($SELF --resubmit failed) or choose another --out"
if [ -z "$BIN" ]; then
  BIN=$(command -v clearshot || true)
  [ -n "$BIN" ] || BIN=$ROOT/target/release/clearshot
fi
[ -x "$BIN" ] || die "no clearshot binary at $BIN (--bin or CLEARSHOT_BIN)"
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
"$BIN" --version 2>/dev/null | grep -q '^clearshot ' || die "$BIN is not clearshot"
"$BIN" merge --help >/dev/null 2>&1 || die "$BIN has no merge command (a clearshot without sharding)"
[ -n "$GALLERY" ] || GALLERY=${HOME:-~}/.local/share/clearshot/gallery.sqlite
[ -f "$GALLERY" ] || die "no gallery at $GALLERY (--gallery or CLEARSHOT_GALLERY)"
GALLERY=$(cd "$(dirname "$GALLERY")" && pwd)/$(basename "$GALLERY")
if [ -n "$MODELS" ]; then
  [ -d "$MODELS" ] || die "no models folder at $MODELS"
  MODELS=$(cd "$MODELS" && pwd)
fi
ORT=${ORT_DYLIB_PATH:-}
WORKDIR=$PWD

# Report options go to the merge; everything else to every task's scan.
SCAN_ARGS=() MERGE_ARGS=() REPORTS=() PER_FILE=() overwrite=0 has_json=0 has_html=0
while [ $# -gt 0 ]; do
  opt=$1 val="" inline=0
  case "$opt" in --*=*)
    val=${opt#*=} opt=${opt%%=*} inline=1
    ;;
  esac
  case "$opt" in
    --json | --csv | --edl | --avid-markers | --otio | --html | --jsonl | --approvals | --ai | --fail-on)
      if [ $inline = 0 ]; then
        [ $# -ge 2 ] || die "$opt needs a value"
        val=$2
        shift
      fi
      MERGE_ARGS+=("$opt" "$val")
      case "$opt" in
        --json | --csv | --otio | --jsonl)
          [ "$val" = - ] || REPORTS+=("$val")
          ;;
        # A merge writes marker lists one per media file: STEM.FILE-NAME.EXT beside VAL.
        --edl | --avid-markers)
          PER_FILE+=("$val")
          REPORTS+=("${val%.*}.*.${val##*.}")
          ;;
        --html) REPORTS+=("$val/index.html") ;;
      esac
      [ "$opt" != --json ] || has_json=1
      [ "$opt" != --html ] || has_html=1
      ;;
    --overwrite) overwrite=1 ;;
    --date)
      # Consent is judged when the reports are made: the merge needs it (the tasks take it too).
      if [ $inline = 0 ]; then
        [ $# -ge 2 ] || die "$opt needs a value"
        val=$2
        shift
      fi
      SCAN_ARGS+=(--date "$val")
      MERGE_ARGS+=(--date "$val")
      ;;
    --journal | --shard | --fresh) die "$opt is set by the scripts (each task has its own journal and shard)" ;;
    --gallery | --models) die "give $opt to submit.sh before the scan options" ;;
    --) ;;
    *) SCAN_ARGS+=("$1") ;;
  esac
  shift
done
[ $has_json = 1 ] || {
  MERGE_ARGS+=(--json "$OUT/report.json")
  REPORTS+=("$OUT/report.json")
}
[ $has_html = 1 ] || {
  MERGE_ARGS+=(--html "$OUT/html")
  REPORTS+=("$OUT/html/index.html")
}
if [ $overwrite = 0 ]; then
  for r in "${REPORTS[@]}"; do
    [ ! -e "$r" ] || die "$r exists (reports are never overwritten unless --overwrite)"
  done
  for r in "${PER_FILE[@]}"; do
    ! compgen -G "${r%.*}.*.${r##*.}" >/dev/null ||
      die "$(compgen -G "${r%.*}.*.${r##*.}" | head -n1) exists (reports are never overwritten unless --overwrite)"
  done
fi

# Journals hold evidence crops (faces: biometric data); reports and logs name what was found.
umask 077
mkdir -p "$OUT" || die "cannot create $OUT"
chmod 700 "$OUT"
mkdir -p "$J" "$OUT/logs"
declare -p TASKS CPUS BIN GALLERY MODELS ORT WORKDIR SBATCH SCAN_ARGS MERGE_ARGS REPORTS >"$CONF"
: >"$OUT/jobs"
submit_jobs "0-$((TASKS - 1))"
say "submitted: scan array job $ARRAY ($TASKS tasks), merge job $MERGE (runs once every task has succeeded)"
say "reports:   ${REPORTS[*]}"
say "logs:      $OUT/logs/ (task K: scan-${ARRAY}_K.log, one JSON Lines event per file)"
say "a failed task K: $SELF --resubmit K   (alone, resuming from its journal; a new merge follows)"
if [ $WAIT = 1 ]; then
  wait_batch
  exit $?
fi
say "wait:      $SELF --wait"
