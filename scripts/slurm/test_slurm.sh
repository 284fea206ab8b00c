#!/usr/bin/env bash
# Scale-out on a real Slurm: starts a one-node cluster on localhost (cluster.sh: Debian's munge,
# slurmctld and slurmd, started directly), then
#   1. scans the fixture media on this machine (one `clearshot scan`, the reference);
#   2. submits them as a 3-task array plus the afterok merge (submit.sh --wait) and checks that
#      the merged JSON equals the one-machine report, apart from started/finished/command_line;
#   3. submits them again, cancels the task scanning demo.mp4 while it scans it (scancel: what a
#      pre-emption, time limit or lost node does), checks that the merge job did not run and
#      that `clearshot merge` of the journals exits 2 naming demo.mp4, resubmits that task alone,
#      checks that it resumes from its journal (scans only what it had not finished) and that
#      the new merge equals the one-machine report;
#   4. checks that the gallery was only read (same bytes, same mtime, no journal file beside it);
# and stops the cluster, also on failure. Prints the timings the README quotes.
# Usage: scripts/slurm/test_slurm.sh   (after scripts/setup.sh, make_fixtures.sh, make_demo.sh)
# CLEARSHOT_BIN picks another binary; CLEARSHOT_SLURM_PORT a port (default: the first free pair
# from 6817).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
HERE=scripts/slurm
BIN=${CLEARSHOT_BIN:-$ROOT/target/release/clearshot}
[ -x "$BIN" ] || { echo "test_slurm: no clearshot at $BIN (run scripts/setup.sh)" >&2; exit 1; }
T=$(mktemp -d /tmp/clearshot-slurm.XXXXXX)
chmod 755 "$T" # munged's socket lives below it
CLUSTER=$T/cluster
cleanup() {
  bash "$HERE/cluster.sh" stop "$CLUSTER" 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() {
  echo "test_slurm: FAIL: $*" >&2
  exit 1
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.1f", b - a}'; }

# Two free ports (slurmctld, slurmd), so a cluster someone else runs here is left alone.
if [ -z "${CLEARSHOT_SLURM_PORT:-}" ]; then
  CLEARSHOT_SLURM_PORT=$(python3 - <<'PY'
import socket
for p in range(6817, 7017, 2):
    free = True
    for q in (p, p + 1):
        s = socket.socket()
        try:
            s.bind(("0.0.0.0", q))
        except OSError:
            free = False
        finally:
            s.close()
    if free:
        print(p)
        break
PY
)
fi
export CLEARSHOT_SLURM_PORT

t0=$(now)
eval "$(bash "$HERE/cluster.sh" start "$CLUSTER")"
T_START=$(since "$t0")

# The demo gallery, read-only from here on.
G=$T/gallery/gallery.sqlite
mkdir -p "$T/gallery"
"$BIN" --gallery "$G" gallery add --name "Barack Obama" --consent denied fixtures/generated/demo/enroll/obama.jpg >/dev/null
"$BIN" --gallery "$G" gallery add --name "Joe Biden" --consent granted fixtures/generated/demo/enroll/biden.jpg >/dev/null
chmod 0400 "$G"
gallery_state() { (cd "$T/gallery" && ls -A && sha256sum gallery.sqlite && stat -c %Y.%y gallery.sqlite); }
G_BEFORE=$(gallery_state)

# Inputs: clips in five containers/codecs, a DPX sequence, a copy of it, and demo.mp4 (the long
# one, 10 s, with findings) last. The plan gives each task a share by bytes (largest first to the
# least-loaded task): the two sequences, being largest, get a task each, and demo.mp4 shares the
# third with the small clips, which that task scans first (plan order). So the task killed while
# it scans demo.mp4 has finished inputs in its journal, and its resubmission must reuse them.
F=fixtures/generated/formats
cp -r "$F/seq_dpx" "$T/seq_dpx_copy"
INPUTS=("$F/h264_25.mp4" "$F/hevc.mp4" "$F/ntsc_df.mp4" "$F/prores_tc.mov" "$F/mpeg2.mxf"
  "$F/seq_dpx" "$T/seq_dpx_copy" fixtures/generated/demo/demo.mp4)
DATE=$(date -u +%F) # one date for every report, should the test run over midnight

# 1. The reference: one machine, one scan.
t0=$(now)
rc=0
"$BIN" --gallery "$G" scan "${INPUTS[@]}" --date "$DATE" --journal "$T/one.sqlite" \
  --json "$T/one.json" >/dev/null 2>"$T/one.err" || rc=$?
T_ONE=$(since "$t0")
[ $rc = 1 ] || fail "the one-machine scan exited $rc, not 1 (findings): $(cat "$T/one.err")"

same_as_one() { # same_as_one REPORT: equal to one.json apart from the run's own fields
  python3 - "$T/one.json" "$1" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for d in (a, b):
    for k in ("started", "finished", "command_line"):
        d.pop(k, None)
diffs = []
def walk(x, y, at):
    if len(diffs) >= 10:
        return
    if isinstance(x, dict) and isinstance(y, dict):
        for k in sorted(set(x) | set(y)):
            walk(x.get(k, "<absent>"), y.get(k, "<absent>"), f"{at}.{k}")
    elif isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
        for i, (u, v) in enumerate(zip(x, y)):
            walk(u, v, f"{at}[{i}]")
    elif x != y:
        diffs.append(f"{at}: one machine {json.dumps(x)[:120]} / merged {json.dumps(y)[:120]}")
walk(a, b, "report")
if diffs:
    print("\n".join(diffs))
    sys.exit(1)
PY
}

# 2. The array and its merge, end to end.
SUBMIT=("$HERE/submit.sh" --gallery "$G" --bin "$BIN")
t0=$(now)
rc=0
"${SUBMIT[@]}" --tasks 3 --out "$T/run1" --wait -- --date "$DATE" "${INPUTS[@]}" >"$T/run1.out" 2>&1 || rc=$?
T_RUN1=$(since "$t0")
[ $rc = 1 ] || fail "submit.sh --wait exited $rc, not 1 (the merge's findings): $(cat "$T/run1.out")"
grep -q "^merge: clearshot exit 1" "$T/run1.out" || fail "no merge result in: $(cat "$T/run1.out")"
diff=$(same_as_one "$T/run1/report.json") || fail "the merged report differs from the one-machine scan:
$diff"
[ -s "$T/run1/html/index.html" ] || fail "the merge wrote no HTML report"
read -r ARRAY1 _ MERGE1 <"$T/run1/jobs"
scontrol show job "$MERGE1" -o | grep -q "JobState=COMPLETED" || fail "merge job $MERGE1 did not complete"
echo "test_slurm: 3-task array $ARRAY1 + merge $MERGE1: merged report = one-machine report"

# Figures from the task logs: each task's clearshot wall time against the time its files took
# inside the workers; the difference is what starting a shard costs (process, models, gallery,
# plan, journal) when the tasks share this machine's 2 cores.
FIGURES=$(python3 - "$T/run1/logs" <<'PY'
import glob, json, re, sys
out = []
for log in sorted(glob.glob(sys.argv[1] + "/scan-*_*.log")):
    task = re.search(r"_(\d+)\.log$", log).group(1)
    files, inside, wall = 0, 0.0, None
    for line in open(log):
        if line.startswith("{"):
            e = json.loads(line)
            if e["type"] == "file_finished" and not e["data"]["from_journal"]:
                files += 1
                inside += e["data"]["seconds"]
        m = re.search(r"clearshot exit \d+ after ([\d.]+) s", line)
        if m:
            wall = float(m.group(1))
    out.append(f"task {task}: {files} files, {wall:.2f} s wall, {inside:.2f} s in the workers, start cost {wall - inside:.2f} s")
print("\n".join(out))
PY
)
MERGE_LOG=$(grep -o "after [0-9.]* s" "$T/run1/logs/merge-$MERGE1.log" | tail -n1)
# The merge alone, outside Slurm, timed here.
t0=$(now)
rc=0
"$BIN" merge "$T"/run1/journals/shard-{0,1,2}.sqlite --json "$T/merge-again.json" >/dev/null 2>&1 || rc=$?
T_MERGE=$(since "$t0")
[ $rc = 1 ] || fail "clearshot merge of run 1 exited $rc"

# 3. A task killed on purpose, then resubmitted alone.
t0=$(now)
"${SUBMIT[@]}" --tasks 3 --out "$T/run2" -- --date "$DATE" "${INPUTS[@]}" >"$T/run2.out" 2>&1 ||
  fail "submit.sh failed: $(cat "$T/run2.out")"
read -r ARRAY2 _ MERGE2 <"$T/run2/jobs"
VICTIM=""
for _ in $(seq 600); do
  VICTIM=$(grep -l '"file_started".*demo/demo.mp4' "$T"/run2/logs/scan-*.log 2>/dev/null | sed 's/.*_\([0-9]*\)\.log$/\1/' || true)
  [ -z "$VICTIM" ] || break
  sleep 0.1
done
[ -n "$VICTIM" ] || fail "no task started demo.mp4 within 60 s"
scancel "${ARRAY2}_$VICTIM"
rc=0
"$HERE/submit.sh" --out "$T/run2" --wait >"$T/run2.wait" 2>&1 || rc=$?
[ $rc = 2 ] || fail "submit.sh --wait after the kill exited $rc, not 2: $(cat "$T/run2.wait")"
grep -q "^task $VICTIM: FAILED" "$T/run2.wait" || fail "task $VICTIM not reported failed: $(cat "$T/run2.wait")"
grep -q "^merge: did not run" "$T/run2.wait" || fail "the merge ran after a failed task: $(cat "$T/run2.wait")"
grep -q -- "--resubmit $VICTIM " "$T/run2.wait" || fail "no resubmit command for task $VICTIM: $(cat "$T/run2.wait")"
scontrol show job "$MERGE2" -o 2>/dev/null | grep -q "JobState=CANCELLED" ||
  fail "merge job $MERGE2 was not cancelled: $(scontrol show job "$MERGE2" -o 2>&1 | head -c 300)"
[ ! -e "$T/run2/report.json" ] || fail "a report was written for an incomplete batch"
rc=0
"$BIN" merge "$T"/run2/journals/shard-*.sqlite --json "$T/partial.json" >/dev/null 2>"$T/partial.err" || rc=$?
[ $rc = 2 ] || fail "clearshot merge without the killed task's inputs exited $rc, not 2: $(cat "$T/partial.err")"
grep -q "demo/demo.mp4" "$T/partial.err" || fail "clearshot merge did not name demo.mp4: $(cat "$T/partial.err")"
DONE_BEFORE=$(grep -c '"type":"file_finished"' "$T/run2/logs/scan-${ARRAY2}_$VICTIM.log" || true)
T_KILL=$(since "$t0")

t0=$(now)
rc=0
"$HERE/submit.sh" --out "$T/run2" --resubmit "$VICTIM" --wait >"$T/run2.resubmit" 2>&1 || rc=$?
T_RESUB=$(since "$t0")
[ $rc = 1 ] || fail "the resubmission exited $rc, not 1: $(cat "$T/run2.resubmit")"
ARRAY3=$(tail -n1 "$T/run2/jobs" | cut -d' ' -f1)
LOG3=$T/run2/logs/scan-${ARRAY3}_$VICTIM.log
grep -q "task $VICTIM of 3 (--shard $VICTIM/3)" "$LOG3" || fail "the resubmitted task did not name its shard: $(head -n1 "$LOG3")"
python3 - "$LOG3" "$DONE_BEFORE" <<'PY' || fail "the resubmitted task did not resume from its journal"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
start = next(e["data"] for e in ev if e["type"] == "batch_started")
done_before = int(sys.argv[2])
scanned = [e["data"]["path"] for e in ev if e["type"] == "file_started"]
print(f"test_slurm: resubmitted task: {start['from_journal']} inputs from its journal, scanned {scanned}")
assert done_before >= 1, "the killed task had finished nothing (did the plan change?)"
assert start["from_journal"] == done_before, (start, done_before)
assert scanned == ["fixtures/generated/demo/demo.mp4"], scanned
PY
diff=$(same_as_one "$T/run2/report.json") || fail "the report after the resubmission differs from the one-machine scan:
$diff"
echo "test_slurm: task $VICTIM cancelled mid-file, merge held back, resubmitted alone, resumed: merged report = one-machine report"

# 4. The gallery was only read.
[ "$(gallery_state)" = "$G_BEFORE" ] || fail "the gallery changed: $(gallery_state)"

t0=$(now)
bash "$HERE/cluster.sh" stop "$CLUSTER" 2>/dev/null
T_STOP=$(since "$t0")
N=${#INPUTS[@]}
echo "test_slurm: timings (this machine, $(nproc) cores shared):"
echo "  cluster start $T_START s (packages installed if missing, then up to a probe job run), stop $T_STOP s"
echo "  one-machine scan of the $N inputs: $T_ONE s; 3-task array + merge, submit to reports: $T_RUN1 s"
echo "  ${FIGURES//$'\n'/$'\n'  }"
echo "  merge job: clearshot merge $MERGE_LOG for $N inputs; again outside Slurm: $T_MERGE s"
echo "  kill run (submit, cancel task $VICTIM mid-file, wait): $T_KILL s; resubmission of task $VICTIM + merge: $T_RESUB s"
echo "test_slurm: ok"
