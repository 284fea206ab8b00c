#!/usr/bin/env bash
# A one-node Slurm cluster on localhost, kept whole in one private folder, for the test suite
# and for trying scripts/slurm/ out on one machine. Not for production clusters.
#
#   cluster.sh start  DIR   install munge + slurmctld + slurmd + slurm-client (Debian) if missing,
#                           write DIR/etc/slurm.conf (daemons) and DIR/etc/client/slurm.conf
#                           (clients), start munged, slurmctld and slurmd directly (no systemd),
#                           and return once a probe job has really run. Prints on stdout the
#                           line the clients need:  export SLURM_CONF=DIR/etc/client/slurm.conf
#   cluster.sh stop   DIR   cancel every job, wait for an empty queue, shut the daemons down,
#                           signal only the pids in DIR's own pid files.
#   cluster.sh status DIR   one line per daemon and the node; exit 0 when the cluster runs.
#
# start and stop are idempotent (a running cluster is left running, a stopped one stopped).
# Runs as root or as any user (the daemons then run as that user, and so do the jobs);
# installing the packages needs root or sudo.
# Nothing is written to /etc, /run or /var: key, sockets, state, spool and logs are in DIR.
# Ports: $CLEARSHOT_SLURM_PORT (slurmctld, default 6817) and the next one (slurmd); both are
# checked before starting. Progress goes to stderr, one line per step.
#
# Measured facts behind each choice (Debian 12, slurm 22.05, munge 0.5.15, no systemd):
# - daemons run in daemon mode with stdio redirected: `slurmctld -D &` keeps a caller's pipe
#   open and the caller never sees EOF;
# - munged wants private paths for every file (Debian's /var/log/munge and /run/munge fail as
#   root) and a socket folder everyone can enter (755);
# - the daemons keep finished jobs 300 s (MinJobAge) so an early failed task is not forgotten,
#   while the clients' copy says 4 so `sbatch --wait` polls briefly instead of up to 32 s;
# - batch_sched_delay=0 (the default 3 s is paid per step); kill_invalid_depend cancels a
#   dependant whose afterok can never be satisfied (otherwise it pends forever);
# - "idle" in sinfo is not "ready": the first scheduling pass comes up to ~3 s later, so start
#   waits for `srun true` and an sbatch job polled to COMPLETED with ExitCode 0:0;
# - `scontrol shutdown` leaves running jobs' processes alive: stop cancels and waits first;
# - exited daemons can linger as zombies (PID 1 here does not reap at once): liveness reads
#   State: in /proc/PID/status, and a pid counts as ours only if its command line names DIR.
set -euo pipefail
export PATH="/usr/sbin:/sbin:$PATH"
say() { echo "cluster: $*" >&2; }
die() { echo "cluster: error: $*" >&2; exit 3; }

usage() {
  awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0" | sed '/^Measured facts/,$d' >&2
  exit 3
}
[ $# -eq 2 ] || usage
CMD=$1
case "$CMD" in start | stop | status) ;; *) usage ;; esac
mkdir -p "$2"
DIR=$(cd "$2" && pwd -P)
case "$DIR" in *[[:space:]]*) die "DIR must not contain spaces (slurm.conf cannot quote them): $DIR" ;; esac
PORT=${CLEARSHOT_SLURM_PORT:-6817}
if ! [[ $PORT =~ ^[0-9]+$ ]] || [ "$PORT" -lt 1024 ] || [ "$PORT" -gt 65534 ]; then
  die "CLEARSHOT_SLURM_PORT=$PORT is not a port between 1024 and 65534"
fi
SPORT=$((PORT + 1))
CONF=$DIR/etc/slurm.conf
CLIENT_CONF=$DIR/etc/client/slurm.conf
export SLURM_CONF=$CLIENT_CONF
SOCK=$DIR/munge/munge.sock

# alive PIDFILE MARK: the pid in PIDFILE runs (not a zombie) and its command line contains MARK
# (so a pid reused by another process after a crash is never taken for ours).
pid_of() {
  local pid st
  pid=$(cat "$1" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  st=$(awk '/^State:/ {print $2}' "/proc/$pid/status" 2>/dev/null) || return 1
  case "$st" in "" | Z | X) return 1 ;; esac
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2" || return 1
  echo "$pid"
}
munged_pid() { pid_of "$DIR/munge/munged.pid" "$SOCK"; }
ctld_pid() { pid_of "$DIR/run/slurmctld.pid" "$CONF"; }
slurmd_pid() { pid_of "$DIR/run/slurmd.pid" "$CONF"; }
all_up() { munged_pid >/dev/null && ctld_pid >/dev/null && slurmd_pid >/dev/null; }
any_up() { munged_pid >/dev/null || ctld_pid >/dev/null || slurmd_pid >/dev/null; }

# port_busy PORT: something accepts connections on it (bash's /dev/tcp, no extra tools).
port_busy() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# wait_for SECONDS CMD...: poll CMD every 0.2 s until it succeeds.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
}

install_packages() {
  local p missing=()
  for p in slurmctld slurmd slurm-client munge; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]} (Debian packages)"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  # Debian's postinst would try to start the services (with /etc defaults, which we do not use);
  # without a policy-rc.d saying no, a fresh machine could end up with a stray slurmctld on the
  # default port. Add one for the install only, if the machine has none.
  local policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod 755 "$policy"
  fi
  local rc=0
  { $sudo apt-get update -qq >/dev/null 2>&1 &&
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null 2>&1; } || rc=$?
  [ -z "$policy" ] || $sudo rm -f "$policy"
  [ $rc -eq 0 ] || die "apt-get install ${missing[*]} failed (exit $rc)"
}

write_config() {
  mkdir -p "$DIR/etc/client" "$DIR/munge" "$DIR/state" "$DIR/spool" "$DIR/run" "$DIR/log"
  # munged refuses a socket in a folder others cannot enter (mktemp -d makes 0700).
  chmod 755 "$DIR" "$DIR/munge"
  local node
  node=$(slurmd -C 2>/dev/null | head -n1) || die "slurmd -C failed"
  [[ $node == NodeName=* ]] || die "slurmd -C printed no node line: $node"
  # Keep what slurmd measured (CPUs, sockets, cores, threads, RealMemory: a RealMemory above
  # the real one drains the node), under our own node name and address.
  node="NodeName=localhost NodeAddr=127.0.0.1 ${node#NodeName=* } State=UNKNOWN"
  # The daemons run as whoever starts them: root on a CI machine, or any user, whose jobs
  # then run as that user only.
  local min_job_age USER_NAME
  USER_NAME=$(id -un)
  for min_job_age in 300 4; do
    cat <<EOF
# Written by scripts/slurm/cluster.sh; a one-node cluster on localhost, everything in $DIR.
ClusterName=clearshot
SlurmctldHost=localhost
SlurmctldPort=$PORT
SlurmdPort=$SPORT
SlurmUser=$USER_NAME
SlurmdUser=$USER_NAME
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCK
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
DependencyParameters=kill_invalid_depend
MinJobAge=$min_job_age
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
$node
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  done | awk -v a="$CONF.tmp" -v b="$CLIENT_CONF.tmp" '/^# Written/ {n++} {print > (n == 1 ? a : b)}'
  mv "$CONF.tmp" "$CONF"
  mv "$CLIENT_CONF.tmp" "$CLIENT_CONF"
}

node_idle() { sinfo -h -n localhost -o %T 2>/dev/null | grep -qx idle; }
queue_empty() { [ -z "$(squeue -h -o %i 2>/dev/null)" ]; }
completed_ok() { scontrol show job "$1" -o 2>/dev/null | grep -q 'JobState=COMPLETED .*ExitCode=0:0'; }
gone() { ! "${1}_pid" >/dev/null; }
slurm_gone() { gone ctld && gone slurmd; }
# The cluster runs jobs end to end: an interactive step, then a batch job to COMPLETED 0:0.
probe() {
  timeout 60 srun -Q -t 1 true >/dev/null 2>&1 || return 1
  local id
  id=$(sbatch --parsable -t 1 -J cluster-probe -o /dev/null --wrap true 2>/dev/null) || return 1
  [[ $id =~ ^[0-9]+$ ]] || return 1
  wait_for 60 completed_ok "$id"
}

start() {
  if all_up && probe; then
    say "already running in $DIR (ports $PORT/$SPORT)"
    echo "export SLURM_CONF=$CLIENT_CONF"
    return 0
  fi
  # Half up (a daemon died, or DIR was left by a killed run): stop what is ours, start over.
  any_up && stop >/dev/null
  install_packages
  local t0=$SECONDS p
  for p in "$PORT" "$SPORT"; do
    port_busy "$p" && die "port $p is in use (another cluster? stop it, or set CLEARSHOT_SLURM_PORT)"
  done
  write_config
  [ -s "$DIR/munge/munge.key" ] || mungekey --create --keyfile="$DIR/munge/munge.key" >/dev/null 2>&1 ||
    die "mungekey failed"
  chmod 600 "$DIR/munge/munge.key"
  munged --socket="$SOCK" --key-file="$DIR/munge/munge.key" --pid-file="$DIR/munge/munged.pid" \
    --seed-file="$DIR/munge/munged.seed" --log-file="$DIR/munge/munged.log" \
    </dev/null >>"$DIR/log/munged.stdout" 2>&1 || die "munged did not start (see $DIR/munge/munged.log)"
  wait_for 10 munged_pid >/dev/null || die "munged did not start (see $DIR/munge/munged.log)"
  slurmctld -f "$CONF" </dev/null >>"$DIR/log/slurmctld.stdout" 2>&1 ||
    die "slurmctld did not start (see $DIR/log/slurmctld.log)"
  slurmd -f "$CONF" -N localhost </dev/null >>"$DIR/log/slurmd.stdout" 2>&1 ||
    die "slurmd did not start (see $DIR/log/slurmd.log)"
  wait_for 20 node_idle ||
    die "the node did not come up idle (see $DIR/log/slurmctld.log and slurmd.log)"
  probe || die "a probe job did not run (see $DIR/log/slurmctld.log and slurmd.log)"
  say "running in $DIR (ports $PORT/$SPORT), a probe job ran, $((SECONDS - t0)) s"
  echo "export SLURM_CONF=$CLIENT_CONF"
}

stop() {
  if ! any_up; then
    say "not running in $DIR"
    return 0
  fi
  if ctld_pid >/dev/null; then
    local ids
    ids=$(squeue -h -o %i 2>/dev/null | sort -u) || true
    if [ -n "$ids" ]; then
      # shellcheck disable=SC2086
      scancel $ids 2>/dev/null || true
      wait_for 60 queue_empty ||
        say "warning: jobs still listed 60 s after scancel"
    fi
    scontrol shutdown >/dev/null 2>&1 || true
    wait_for 15 slurm_gone || true
  fi
  # Whatever is still up (slurmd without its controller, munged): our own pids only.
  local name pid
  for name in slurmd ctld munged; do
    pid=$(${name}_pid) || continue
    kill -TERM "$pid" 2>/dev/null || true
    wait_for 10 gone "$name" || { pid=$(${name}_pid) && kill -KILL "$pid" 2>/dev/null; } || true
  done
  rm -f "$DIR/run/slurmctld.pid" "$DIR/run/slurmd.pid" "$DIR/munge/munged.pid"
  say "stopped in $DIR"
}

status() {
  local rc=0 pid name
  for name in munged:munged slurmctld:ctld slurmd:slurmd; do
    if pid=$(${name#*:}_pid); then
      echo "${name%%:*}: running (pid $pid)"
    else
      echo "${name%%:*}: not running"
      rc=1
    fi
  done
  if [ $rc -eq 0 ]; then
    echo "node: $(sinfo -h -n localhost -o '%N %T cpus=%c memory=%mMB' 2>/dev/null || echo 'no answer')"
    echo "jobs: $(squeue -h -o %i 2>/dev/null | wc -l) in the queue; export SLURM_CONF=$CLIENT_CONF"
  fi
  return $rc
}

"$CMD"
