#!/bin/bash
# A single-node SLURM cluster with one fake GPU, and an sshd for root, all on 127.0.0.1: what
# switchboard's tests of its SLURM launcher run against. Debian or Ubuntu, as root. It needs no
# systemd: daemons are started directly and found again by their pidfiles.
#
#   scripts/slurm-local/setup.sh [--started FILE]
#
# Safe to run again: what is already up is left alone (then it takes well under a second).
# --started FILE: FILE gets the names of the daemons this run started, one a line, so a caller can
# stop exactly those with `teardown.sh NAME...` and leave alone what was running before.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

started_file=
case $# in
	0) ;;
	2) [ "$1" = --started ] || fail "usage: setup.sh [--started FILE]"; started_file=$2; : >"$started_file" ;;
	*) fail "usage: setup.sh [--started FILE]" ;;
esac
require_root
t0=${EPOCHREALTIME/./}

# The first line of every config file this script writes. A file without it is someone else's.
marker='# Written by switchboard scripts/slurm-local/setup.sh, which rewrites it while this line is here.'
for file in /etc/slurm/slurm.conf /etc/slurm/gres.conf; do
	if [ -e $file ] && [ "$(head -n 1 $file)" != "$marker" ]; then
		fail "$file exists and this script did not write it: this machine has a SLURM setup of its own, which I leave alone. Run switchboard's SLURM tests on a machine without one."
	fi
done

# --- Packages. Without systemd, package scripts start daemons through invoke-rc.d (the Debian sshd
# would take 0.0.0.0:22); a policy-rc.d that answers 101 stops that. Containers usually have one.
packages=(slurm-wlm slurmctld slurmd slurm-client munge openssh-server openssh-client tmux)
mkdir -p "$log_dir" "$state_dir"
installed=$(dpkg-query -W -f='${db:Status-Abbrev}\n' "${packages[@]}" 2>/dev/null | grep -c '^ii' || true)
if [ "$installed" != ${#packages[@]} ]; then
	command -v apt-get >/dev/null || fail "no apt-get: I know Debian and Ubuntu only; install ${packages[*]} yourself"
	say "installing ${packages[*]} with apt-get (about 10 s)"
	policy=/usr/sbin/policy-rc.d
	if [ ! -e $policy ]; then
		trap 'rm -f $policy' EXIT
		printf '#!/bin/sh\nexit 101\n' >$policy
		chmod 755 $policy
	fi
	if ! { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${packages[@]}"; } >"$log_dir/apt.log" 2>&1; then
		tail -n 15 "$log_dir/apt.log" >&2
		fail "apt-get failed; its output is in $log_dir/apt.log"
	fi
fi

started=()
# start NAME PIDFILE LOG COMMAND...: run a daemon that goes into the background and writes PIDFILE.
# What it says before it has its LOG open goes to $log_dir/NAME.start.log.
start() {
	local name=$1 pidfile=$2 log=$3 tries
	shift 3
	rm -f "$pidfile"
	if "$@" </dev/null >"$log_dir/$name.start.log" 2>&1; then
		for ((tries = 0; tries < 100; tries++)); do
			pidfile_running "$name" "$pidfile" && break
			sleep 0.1
		done
	fi
	if ! pidfile_running "$name" "$pidfile"; then
		tail -n 20 "$log_dir/$name.start.log" "$log" >&2 || true
		fail "$name did not start ($*): see $log_dir/$name.start.log and $log"
	fi
	forget "$name"
	echo "$name $pid $pidfile" >>"$record"
	started+=("$name")
	[ -z "$started_file" ] || echo "$name" >>"$started_file"
}

# --- munge: slurm's authentication.
if ! pidfile_running munged /run/munge/munged.pid; then
	if [ ! -s /etc/munge/munge.key ]; then # the package's postinst normally makes it
		mungekey --create --force
		chown munge:munge /etc/munge/munge.key
		chmod 0400 /etc/munge/munge.key
	fi
	install -d -o munge -g munge -m 0755 /run/munge # systemd's RuntimeDirectory= would make it
	start munged /run/munge/munged.pid /var/log/munge/munged.log runuser -u munge -- /usr/sbin/munged
	for ((tries = 0; tries < 50; tries++)); do
		munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 && break
		sleep 0.1
	done
fi

# --- slurm.conf and gres.conf. One node, this host, reached on 127.0.0.1 (no DNS). OverSubscribe
# lets several small jobs share a CPU; DefMemPerCPU keeps a job without --mem from taking the whole
# node; batch_sched_delay=0 starts a batch job at once instead of up to 3 s later. Behind a job that
# waits for the GPU (PENDING Resources) only the backfill scheduler starts other jobs (PENDING
# Priority until then), and only those whose time limit ends before the waiting job could start:
# it holds the whole node from then on. bf_interval=1 has it look every second, not every 30.
# A GPU without a File= is dropped (the node then goes INVAL), so the fake GPU is /dev/null.
node_name=$(hostname -s)
cpus=$(nproc)
memory_mb=$(awk '/^MemTotal:/ {m = int($2 / 2048); print (m > 4096 ? 4096 : m)}' /proc/meminfo)
slurm_conf="$marker
ClusterName=switchboard
SlurmctldHost=$node_name(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=256
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,bf_interval=1
ReturnToService=2
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
GresTypes=gpu
NodeName=$node_name NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory_mb Gres=gpu:1 State=UNKNOWN
PartitionName=local Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4"
gres_conf="$marker
NodeName=$node_name Name=gpu File=/dev/null Count=1"

config_changed=
write_config() { # FILE TEXT
	[ -f "$1" ] && [ "$(cat "$1")" = "$2" ] && return 0
	printf '%s\n' "$2" >"$1"
	config_changed=1
}
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
write_config /etc/slurm/slurm.conf "$slurm_conf"
write_config /etc/slurm/gres.conf "$gres_conf"

# --- slurmctld and slurmd. Daemons running on an older config restart on the new one.
if [ -n "$config_changed" ] && { pidfile_running slurmctld /run/slurmctld.pid || pidfile_running slurmd /run/slurmd.pid; }; then
	say "the SLURM config changed: restarting slurmctld and slurmd"
	cancel_all_jobs
	for name in slurmd slurmctld; do
		if pidfile_running $name /run/$name.pid; then stop_pid $name "$pid"; fi
	done
fi
pidfile_running slurmctld /run/slurmctld.pid || start slurmctld /run/slurmctld.pid /var/log/slurm/slurmctld.log /usr/sbin/slurmctld
pidfile_running slurmd /run/slurmd.pid || start slurmd /run/slurmd.pid /var/log/slurm/slurmd.log /usr/sbin/slurmd

node_up() { [[ $state =~ ^(idle|mixed|allocated|completing)$ ]]; }
state=$(sinfo -h -n "$node_name" -o %T 2>/dev/null || true)
resumed=
for ((tries = 0; tries < 150; tries++)); do
	node_up && break
	# A node that once registered with a bad gres.conf stays drained after the fix, even with ReturnToService=2.
	if [ -z "$resumed" ] && ((tries >= 30)) && [[ $state =~ ^(drain|down|inval) ]]; then
		scontrol update nodename="$node_name" state=resume 2>/dev/null || true
		resumed=1
	fi
	sleep 0.1
	state=$(sinfo -h -n "$node_name" -o %T 2>/dev/null || true)
done
if ! node_up; then
	scontrol show node "$node_name" >&2 || true
	tail -n 20 /var/log/slurm/slurmctld.log >&2
	fail "node $node_name is '$state', not idle, 15 s after slurmd started"
fi

# --- sshd on 127.0.0.1, port 22 (ssh's default, which --loopback-host relies on) unless another
# server has it, and port 2222 always.
sshd_conf=/etc/ssh/switchboard-test-sshd.conf
sshd_pidfile=$state_dir/sshd.pid
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if ! pidfile_running sshd "$sshd_pidfile"; then
	port_taken 2222 && fail "port 2222 on 127.0.0.1 is taken by another program; the tests' sshd needs it"
	ports='Port 22
Port 2222'
	port_taken 22 && ports='Port 2222'
	[ -s /etc/ssh/ssh_host_ed25519_key ] || ssh-keygen -A
	install -d -m 0755 /run/sshd # privilege separation directory, which systemd would make
	printf '%s\n' "$marker" "$ports" "ListenAddress 127.0.0.1
HostKey /etc/ssh/ssh_host_ed25519_key
PidFile $sshd_pidfile
PermitRootLogin prohibit-password
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AllowTcpForwarding yes
GatewayPorts no
X11Forwarding no
PrintMotd no
ClientAliveInterval 15
ClientAliveCountMax 3" >"$sshd_conf"
	/usr/sbin/sshd -t -f "$sshd_conf" || fail "sshd rejects $sshd_conf"
	start sshd "$sshd_pidfile" "$log_dir/sshd.log" /usr/sbin/sshd -f "$sshd_conf" -E "$log_dir/sshd.log"
fi
mapfile -t ssh_ports < <(awk '$1 == "Port" {print $2}' "$sshd_conf")

# --- root's key, authorized for itself, and this sshd's host key in known_hosts, so that
# `ssh -o BatchMode=yes root@127.0.0.1` neither asks nor fails.
ssh_changed=
ssh_dir=~root/.ssh
install -d -m 0700 $ssh_dir
if [ ! -f $ssh_dir/id_ed25519 ]; then
	ssh-keygen -q -t ed25519 -N '' -C "root@$node_name for switchboard tests" -f $ssh_dir/id_ed25519
fi
[ -f $ssh_dir/id_ed25519.pub ] || ssh-keygen -y -f $ssh_dir/id_ed25519 >$ssh_dir/id_ed25519.pub
if ! grep -qxF "$(cat $ssh_dir/id_ed25519.pub)" $ssh_dir/authorized_keys 2>/dev/null; then
	cat $ssh_dir/id_ed25519.pub >>$ssh_dir/authorized_keys
	chmod 600 $ssh_dir/authorized_keys
	ssh_changed=1
fi
host_key=$(cut -d ' ' -f 1,2 /etc/ssh/ssh_host_ed25519_key.pub)
for port in "${ssh_ports[@]}"; do
	for host in 127.0.0.1 localhost; do
		[ "$port" = 22 ] && pattern=$host || pattern="[$host]:$port"
		grep -qxF "$pattern $host_key" $ssh_dir/known_hosts 2>/dev/null && continue
		ssh-keygen -R "$pattern" -f $ssh_dir/known_hosts >/dev/null 2>&1 || true # a stale key would make ssh refuse
		echo "$pattern $host_key" >>$ssh_dir/known_hosts
		ssh_changed=1
	done
done
if [ -n "$ssh_changed" ] || [[ " ${started[*]} " == *' sshd '* ]]; then
	for port in "${ssh_ports[@]}"; do
		ssh -o BatchMode=yes -o ConnectTimeout=5 -p "$port" root@127.0.0.1 true ||
			fail "ssh -p $port root@127.0.0.1 does not log in; sshd's log: $log_dir/sshd.log"
	done
fi

elapsed_ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
if ((${#started[@]})); then
	how=$(printf 'up in %d.%d s (started %s)' $((elapsed_ms / 1000)) $((elapsed_ms % 1000 / 100)) "${started[*]}")
else
	how='already up'
fi
ports_said=$(printf '%s and ' "${ssh_ports[@]}")
note=
[ "${ssh_ports[0]}" = 22 ] || note='; port 22 belongs to another server, so ssh without -p does not reach this sshd'
say "$how: node $node_name $state, $cpus CPUs, 1 fake GPU; sshd for root on 127.0.0.1 port ${ports_said% and }$note"
