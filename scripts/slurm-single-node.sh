#!/usr/bin/env bash
# A real single-node Slurm on this machine, for `make test-slurm` and for trying `pipeline run --executor slurm`.
#
#   scripts/slurm-single-node.sh          install (apt) and start munged, slurmctld and slurmd; wait for the node
#   scripts/slurm-single-node.sh stop     stop the three daemons (by their pid files)
#   scripts/slurm-single-node.sh status   print sinfo (exit 1 when Slurm does not answer)
#
# Idempotent: with Slurm answering and the node usable, a second call returns at once. Runs without systemd (a
# container): the daemons are started directly, as root (through sudo when not root). Debian's slurm-wlm 22.05.
#
# The configuration needs no cgroups and no database: ProctrackType=proctrack/linuxproc, TaskPlugin=task/none,
# accounting off (AccountingStorageType=accounting_storage/none), so `sacct` does not work here; the executor
# follows jobs with `squeue` and reads each task's exit status from the file its batch script writes
# (runs/<ts>/slurm/status/). SelectType=select/cons_tres with CR_Core: every core is a slot, so two 1-cpu tasks run
# at once on a 2-core machine. Finished jobs stay visible in squeue for MinJobAge=300 seconds.
#
# Files: /etc/slurm/slurm.conf (rewritten on start when Slurm is not running), logs in /var/log/slurm/.
set -euo pipefail

SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
CONF=/etc/slurm/slurm.conf
PIDS=/run/slurm
PARTITION=${SLURM_PARTITION:-debug}

answering() { timeout 5 sinfo -h -o '%T' 2>/dev/null | grep -Eq '^(idle|mixed|allocated|completing)'; }

stop_daemon() {  # name pidfile
    local pid
    [ -f "$2" ] || return 0
    pid=$(cat "$2" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        $SUDO kill "$pid"
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -0 "$pid" 2>/dev/null && $SUDO kill -9 "$pid"
        echo "stopped $1 ($pid)"
    fi
    $SUDO rm -f "$2"
}

case "${1:-start}" in
stop)
    stop_daemon slurmd $PIDS/slurmd.pid
    stop_daemon slurmctld $PIDS/slurmctld.pid
    stop_daemon munged /run/munge/munged.pid
    exit 0 ;;
status)
    sinfo; exit $? ;;
start) ;;
*)
    echo "usage: $0 [start|stop|status]" >&2; exit 2 ;;
esac

if command -v sinfo >/dev/null && answering; then
    echo "slurm: already running ($(sinfo -h -o '%N %T %c cpus'))"
    exit 0
fi

if ! dpkg -s slurm-wlm munge >/dev/null 2>&1; then
    echo "installing slurm-wlm and munge (apt)"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq slurm-wlm munge >/dev/null
fi

# munge: the key exists after the package's installation; the daemon must run as the munge user.
$SUDO mkdir -p /run/munge /var/log/munge /var/lib/munge
$SUDO chown munge:munge /run/munge /var/log/munge /var/lib/munge
$SUDO chmod 0755 /run/munge
if [ ! -s /etc/munge/munge.key ]; then
    $SUDO mungekey --create --keyfile=/etc/munge/munge.key
    $SUDO chown munge:munge /etc/munge/munge.key; $SUDO chmod 0400 /etc/munge/munge.key
fi
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    $SUDO rm -f /run/munge/munged.pid
    $SUDO runuser -u munge -- /usr/sbin/munged
    for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
    munge -n | unmunge >/dev/null || { echo "munged did not start (see /var/log/munge/munged.log)" >&2; exit 1; }
fi

# slurm.conf for this host, from what slurmd itself detects (a configured size larger than the hardware's would
# drain the node).
HOST=$(hostname -s)
HW=$(slurmd -C | head -1)
field() { echo "$HW" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
CPUS=$(field CPUs); CPUS=${CPUS:-$(nproc)}
SOCKETS=$(field SocketsPerBoard); CORES=$(field CoresPerSocket); THREADS=$(field ThreadsPerCore)
MEM=$(field RealMemory); MEM=${MEM:-$(free -m | awk '/^Mem:/ {print $2}')}
TOPOLOGY=""
[ -n "$SOCKETS" ] && [ -n "$CORES" ] && [ -n "$THREADS" ] && \
    TOPOLOGY="Sockets=$SOCKETS CoresPerSocket=$CORES ThreadsPerCore=$THREADS"

$SUDO mkdir -p /etc/slurm $PIDS /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm
$SUDO chown slurm:slurm $PIDS /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm
$SUDO tee $CONF >/dev/null <<EOF
# Written by scripts/slurm-single-node.sh: one node ($HOST), no cgroups, no accounting database.
ClusterName=pipeline
SlurmctldHost=$HOST
SlurmUser=slurm
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=$PIDS/slurmctld.pid
SlurmdPidFile=$PIDS/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
ReturnToService=2
MinJobAge=300
MaxArraySize=10001
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$HOST CPUs=$CPUS $TOPOLOGY RealMemory=$MEM State=UNKNOWN
PartitionName=$PARTITION Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF

stop_daemon slurmd $PIDS/slurmd.pid >/dev/null
stop_daemon slurmctld $PIDS/slurmctld.pid >/dev/null
# -i: ignore state saved by an earlier controller with another configuration (jobs of an old test are dropped).
$SUDO slurmctld -i
$SUDO slurmd

echo -n "slurm: waiting for node $HOST"
for _ in $(seq 120); do
    state=$(timeout 5 sinfo -h -n "$HOST" -o '%T' 2>/dev/null || true)
    case "$state" in
    idle|mixed|allocated) echo " — $state"; break ;;
    down*|drain*) $SUDO scontrol update NodeName="$HOST" State=RESUME 2>/dev/null || true ;;
    esac
    echo -n "."; sleep 0.5
done
if ! answering; then
    echo; echo "slurm: the node did not become idle (sinfo: $(sinfo -h -o '%N %T %E' 2>&1))" >&2
    echo "logs: /var/log/slurm/slurmctld.log, /var/log/slurm/slurmd.log" >&2
    exit 1
fi
sinfo
