# Shared by setup.sh and teardown.sh (sourced, not run).

# What setup.sh started: one line per daemon, "NAME PID PIDFILE". /run is a tmpfs, so a reboot
# forgets it together with the daemons.
state_dir=/run/switchboard-test
record=$state_dir/daemons
log_dir=/var/log/switchboard-test

say() { printf 'slurm-local: %s\n' "$*"; }
fail() { printf 'slurm-local: %s\n' "$*" >&2; exit 1; }

require_root() {
	[ "$(id -u)" = 0 ] || fail "run me as root: I install Debian packages and start daemons (munged, slurmctld, slurmd, sshd)"
}

# is_running NAME PID: PID is alive, not a zombie, and its command is NAME. The name check keeps
# a stale pidfile whose PID now belongs to another process from counting (or being killed).
is_running() {
	local stat
	stat=$(cat "/proc/$2/stat" 2>/dev/null) || return 1
	[[ $stat == "$2 ($1) "[!Z]* ]]
}

# pidfile_running NAME PIDFILE: the daemon that PIDFILE names is up; its PID is left in $pid.
pidfile_running() {
	pid=$(cat "$2" 2>/dev/null) || return 1
	[[ $pid =~ ^[0-9]+$ ]] && is_running "$1" "$pid"
}

# stop_pid NAME PID: SIGTERM, then wait (slurmd takes over a second), SIGKILL after 10 s.
stop_pid() {
	is_running "$1" "$2" || return 0
	kill -TERM "$2" 2>/dev/null || return 0
	local tries
	for ((tries = 0; tries < 100; tries++)); do
		is_running "$1" "$2" || return 0
		sleep 0.1
	done
	say "$1 ($2) ignored SIGTERM for 10 s; killing it"
	kill -KILL "$2" 2>/dev/null || true
	for ((tries = 0; tries < 50; tries++)); do
		is_running "$1" "$2" || return 0
		sleep 0.1
	done
	fail "$1 ($2) is still running after SIGKILL"
}

# forget NAME: drop NAME's line from the record.
forget() {
	[ -f "$record" ] || return 0
	local kept
	kept=$(grep -v "^$1 " "$record" || true)
	if [ -n "$kept" ]; then printf '%s\n' "$kept" >"$record"; else rm -f "$record"; fi
}

# cancel_all_jobs: every job, and wait until squeue lists none (a job that ignores SIGTERM is killed
# after slurm's KillWait, 30 s). Stopping slurmd alone would leave the jobs' processes running.
cancel_all_jobs() {
	local jobs tries
	jobs=$(squeue -h -o %i 2>/dev/null) || return 0
	[ -n "$jobs" ] || return 0
	# shellcheck disable=SC2086 # one id a word
	scancel $jobs 2>/dev/null || true
	for ((tries = 0; tries < 400; tries++)); do
		[ -z "$(squeue -h -o %i 2>/dev/null)" ] && { say "cancelled $(wc -w <<<"$jobs") job(s)"; return 0; }
		sleep 0.1
	done
	say "jobs still listed 40 s after scancel: $(squeue -h -o '%i %T' | tr '\n' ' ')"
}
