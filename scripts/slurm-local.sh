#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for the `slurm` tests and for trying EXECUTOR = "slurm".
#
#   scripts/slurm-local.sh start     install what is missing, write the config, start the daemons
#   scripts/slurm-local.sh stop      cancel the jobs, stop the daemons (add --purge: drop state and logs)
#   scripts/slurm-local.sh status    exit 0 when the cluster answers, and say how it is
#
# Debian/Ubuntu as root, without systemd (a container): Debian's Slurm (slurmctld, slurmd, the
# client tools) with munge, plus slurmdbd and MariaDB so that `sacct` works (without accounting a job
# that dies without a result, e.g. cancelled or over its time limit, can never be told from a queued
# one). `start` is idempotent: it starts only what is not running, restarts what a changed config
# needs, and waits until the node takes jobs. Exit status 3: this machine cannot host it (not root, no
# apt-get); the tests then skip the `slurm` ones and say why.
#
# Knobs (environment):
#   SLURM_NODE_CPUS    CPUs the node offers (default: nproc; more than the real count is allowed)
#   SLURM_NODE_MEM_MB  its memory in MB (default: 85% of what slurmd -C finds)
#   SLURM_FAKE_GPUS    N > 0: declare N "gpu" resources (placeholders, no GPU) so --gpus-per-node is accepted
#   SLURM_PARTITION    partition name (default: debug)
set -euo pipefail

PARTITION=${SLURM_PARTITION:-debug}
FAKE_GPUS=${SLURM_FAKE_GPUS:-0}
HOST=$(hostname -s)
LOG_DIR=/var/log/slurm
T0=$(date +%s.%N)
since() { awk -v now="$(date +%s.%N)" -v t0="$1" 'BEGIN { printf "%.1f", now - t0 }'; }
say() { echo "[slurm-local $(since "$T0")s] $*"; }
die() { echo "slurm-local: $*" >&2; exit "${2:-1}"; }

# Daemons are found by their pid files and checked by command name, never by a name search: other
# processes of this machine are not ours to stop. A zombie counts as stopped (PID 1 of a container
# may reap orphans late).
alive() {  # alive <pidfile> <comm>
    local pid
    [ -s "$1" ] || return 1
    pid=$(cat "$1" 2>/dev/null) || return 1
    [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] \
        && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]
}
stop_daemon() {  # stop_daemon <pidfile> <comm>: TERM, up to 30 s, then KILL
    local pid i
    if ! alive "$1" "$2"; then rm -f "$1"; return 0; fi
    pid=$(cat "$1")
    kill "$pid" 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do
        alive "$1" "$2" || { say "$2 stopped ($pid)"; rm -f "$1"; return 0; }
        sleep 0.1
    done
    say "$2 ($pid) still running after 30 s: KILL"; kill -9 "$pid" 2>/dev/null || true
}
wait_until() {  # wait_until <seconds> <what> <command...>
    local secs=$1 what=$2 i
    shift 2
    for ((i = 0; i < secs * 5; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
    die "timed out after ${secs}s waiting for $what (logs: $LOG_DIR)"
}
node_up() {  # the node takes jobs (idle, or busy with earlier ones); a drained node is resumed
    local state
    state=$(sinfo -h -n "$HOST" -o %T 2>/dev/null) || return 1
    case "$state" in
        idle | mixed | allocated | completing | planned) return 0 ;;
        down* | drain* | *drng*) scontrol update NodeName="$HOST" State=RESUME >/dev/null 2>&1; return 1 ;;
        *) return 1 ;;
    esac
}

status() {
    if command -v sinfo >/dev/null && alive /run/slurmctld.pid slurmctld && alive /run/slurmd.pid slurmd \
        && node_up; then
        echo "slurm-local: up: $(sinfo -h -o 'partition %P, %D node(s) %T, %c CPUs, %m MB' | head -1)"
        alive /run/slurmdbd.pid slurmdbd && echo "slurm-local: accounting (sacct) on" \
            || echo "slurm-local: accounting (sacct) off"
        return 0
    fi
    echo "slurm-local: not running"
    return 1
}

stop() {
    # jobs outlive slurmd (slurmstepd): cancel them first, and give them a moment to end
    if command -v scancel >/dev/null && alive /run/slurmctld.pid slurmctld; then
        timeout 10 scancel --user="$(id -un)" >/dev/null 2>&1 || true
        for ((i = 0; i < 75; i++)); do
            [ -z "$(timeout 5 squeue -h -t R,CG,S 2>/dev/null)" ] && break
            sleep 0.2
        done
    fi
    stop_daemon /run/slurmd.pid slurmd
    stop_daemon /run/slurmctld.pid slurmctld
    stop_daemon /run/slurmdbd.pid slurmdbd
    if [ "${1:-}" = --purge ] && command -v mariadb >/dev/null && mariadb-admin ping >/dev/null 2>&1; then
        # job ids restart at 1 without the state files: an old record must not answer for a new job
        mariadb -e "DROP DATABASE IF EXISTS slurm_acct_db" && say "dropped the accounting database"
    fi
    stop_daemon /run/mysqld/mysqld.pid mariadbd
    stop_daemon /run/munge/munged.pid munged
    if [ "${1:-}" = --purge ]; then
        rm -rf /var/spool/slurmctld/* /var/spool/slurmd/* "${LOG_DIR:?}"/* /run/slurm-fakegpu
        say "purged job state and logs"
    fi
}

write_if_changed() {  # write_if_changed <file> <mode> < content; exit 0 when the file changed
    local tmp
    tmp=$(mktemp)
    cat >"$tmp"
    if cmp -s "$tmp" "$1"; then rm -f "$tmp"; return 1; fi
    install -m "$2" "$tmp" "$1"
    rm -f "$tmp"
    say "wrote $1"
}

start() {
    [ "$(id -u)" = 0 ] || die "needs root (it installs packages and starts system daemons)" 3
    # ---- packages
    local pkgs="slurmctld slurmd slurm-client munge slurmdbd mariadb-server" missing="" p
    for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
    if [ -n "$missing" ]; then
        command -v apt-get >/dev/null || die "needs apt-get to install:$missing" 3
        local t apt_log=/tmp/slurm-local-apt.log
        t=$(date +%s.%N)
        say "installing:$missing (log: $apt_log)"
        export DEBIAN_FRONTEND=noninteractive
        local opts=(-o DPkg::Lock::Timeout=600 -y -q --no-install-recommends)
        # shellcheck disable=SC2086
        nice -n 19 apt-get "${opts[@]}" install $missing >"$apt_log" 2>&1 || {
            nice -n 19 apt-get -o DPkg::Lock::Timeout=600 -q update >>"$apt_log" 2>&1
            nice -n 19 apt-get "${opts[@]}" install $missing >>"$apt_log" 2>&1
        } || { tail -20 "$apt_log" >&2; die "apt-get install failed"; }
        say "installed in $(since "$t")s"
    fi

    # ---- configuration
    mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd "$LOG_DIR"
    local real_cpus real_mem cpus mem gres_types="" node_gres="" overrides=""
    real_cpus=$(nproc)
    real_mem=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
    cpus=${SLURM_NODE_CPUS:-$real_cpus}
    mem=${SLURM_NODE_MEM_MB:-$((real_mem * 85 / 100))}
    if [ "$FAKE_GPUS" -gt 0 ]; then gres_types="GresTypes=gpu"; node_gres=" Gres=gpu:$FAKE_GPUS"; fi
    # a node that claims more than slurmd finds is drained, unless the config may override it
    if [ "$cpus" -gt "$real_cpus" ] || [ "$mem" -gt "$real_mem" ]; then overrides="SlurmdParameters=config_overrides"; fi
    local changed=0 dbd_changed=0
    write_if_changed /etc/slurm/slurm.conf 644 <<CONF && changed=1
# one-node cluster written by scripts/slurm-local.sh
ClusterName=local
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
# start a queued job within about a second of a free CPU (the default waits seconds between passes)
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
# refuse at submission what can never run (more CPUs, memory or GPUs than the node has), as sbatch
# does on a real cluster; otherwise such a job would pend forever
EnforcePartLimits=ALL
ReturnToService=2
# a cancelled job gets SIGKILL 5 s after SIGTERM (default 30): submitit's jobs ignore SIGTERM, so
# scancel would otherwise take half a minute to free the CPUs
KillWait=5
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=$HOST
JobCompType=jobcomp/none
$gres_types
$overrides
NodeName=$HOST CPUs=$cpus RealMemory=$mem$node_gres State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
    if [ "$FAKE_GPUS" -gt 0 ]; then
        # a gpu resource needs device files: character devices with /dev/null's numbers stand in
        mkdir -p /run/slurm-fakegpu
        for ((i = 0; i < FAKE_GPUS; i++)); do
            [ -c /run/slurm-fakegpu/gpu$i ] || mknod -m 666 /run/slurm-fakegpu/gpu$i c 1 3
        done
        printf 'AutoDetect=off\nNodeName=%s Name=gpu File=/run/slurm-fakegpu/gpu[0-%s]\n' "$HOST" "$((FAKE_GPUS - 1))" \
            | write_if_changed /etc/slurm/gres.conf 644 && changed=1
    elif [ -e /etc/slurm/gres.conf ]; then
        rm -f /etc/slurm/gres.conf
        changed=1
    fi
    write_if_changed /etc/slurm/slurmdbd.conf 600 <<CONF && dbd_changed=1
AuthType=auth/munge
DbdHost=$HOST
SlurmUser=root
LogFile=$LOG_DIR/slurmdbd.log
PidFile=/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
CONF

    # ---- munge (authentication between the daemons and the client tools)
    if [ ! -s /etc/munge/munge.key ]; then
        mungekey --create --keyfile=/etc/munge/munge.key 2>/dev/null \
            || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
        chown munge:munge /etc/munge/munge.key
        chmod 400 /etc/munge/munge.key
    fi
    mkdir -p /run/munge && chown munge:munge /run/munge && chmod 755 /run/munge
    if ! alive /run/munge/munged.pid munged; then
        rm -f /run/munge/munged.pid /run/munge/munge.socket.2*
        runuser -u munge -- /usr/sbin/munged
        say "munged started"
    fi
    wait_until 10 munge bash -c 'munge -n | unmunge'

    # ---- MariaDB + slurmdbd (accounting, for sacct)
    mkdir -p /run/mysqld && chown mysql:root /run/mysqld
    if ! mariadb-admin ping >/dev/null 2>&1; then
        local t
        t=$(date +%s.%N)
        setsid nice -n 19 /usr/sbin/mariadbd --user=mysql --innodb-buffer-pool-size=64M \
            --innodb-lock-wait-timeout=900 --performance-schema=OFF --skip-name-resolve \
            >>"$LOG_DIR/mariadb.log" 2>&1 </dev/null &
        wait_until 60 MariaDB mariadb-admin ping
        say "MariaDB started in $(since "$t")s"
    fi
    mariadb -e "CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurm';
                GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';"
    [ "$dbd_changed" = 1 ] && stop_daemon /run/slurmdbd.pid slurmdbd
    if ! alive /run/slurmdbd.pid slurmdbd; then
        nice -n 19 slurmdbd
        wait_until 60 slurmdbd sacctmgr -n list cluster
        say "slurmdbd started"
    fi
    if ! sacctmgr -n -P list cluster format=cluster | grep -qx local; then
        sacctmgr -i add cluster local >/dev/null
        say "cluster 'local' added to the accounting database"
    fi

    # ---- slurmctld + slurmd (a changed config needs new daemons: reconfigure does not switch plugins)
    if [ "$changed" = 1 ]; then
        stop_daemon /run/slurmd.pid slurmd
        stop_daemon /run/slurmctld.pid slurmctld
    fi
    alive /run/slurmctld.pid slurmctld || { nice -n 19 slurmctld; say "slurmctld started"; }
    alive /run/slurmd.pid slurmd || { nice -n 19 slurmd; say "slurmd started"; }
    wait_until 60 "node $HOST to take jobs" node_up
    say "ready: $(sinfo -h -o 'partition %P, %D node(s) %T, %c CPUs, %m MB' | head -1)"
}

case "${1:-}" in
    start) start ;;
    stop) stop "${2:-}" ;;
    status) status ;;
    *) echo "usage: $0 start|stop [--purge]|status" >&2; exit 2 ;;
esac
