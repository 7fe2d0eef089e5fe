#!/bin/bash
# Stops what scripts/slurm-local/setup.sh started, by the PIDs it recorded: all of it, or only the
# daemons named (munged, slurmctld, slurmd, sshd). Jobs are cancelled first, because stopping slurmd
# leaves their processes running. Packages, configs and root's key stay.
#
#   scripts/slurm-local/teardown.sh [NAME...]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root

if [ ! -s "$record" ]; then
	say "nothing to stop: setup.sh started no daemon that is still recorded"
	exit 0
fi
wanted=" $* "
# Newest first: sshd, slurmd, slurmctld, munged (slurm needs munge to the end).
mapfile -t lines < <(tac "$record")
stopping=()
for line in "${lines[@]}"; do
	read -r name _ <<<"$line"
	[ $# = 0 ] || [[ $wanted == *" $name "* ]] && stopping+=("$line")
done

if [[ " ${stopping[*]} " =~ \ (slurmd|slurmctld)\  ]] && pidfile_running slurmctld /run/slurmctld.pid; then
	cancel_all_jobs
fi
stopped=()
for line in "${stopping[@]}"; do
	read -r name pid _ <<<"$line"
	if is_running "$name" "$pid"; then
		stop_pid "$name" "$pid"
		stopped+=("$name")
	fi
	forget "$name"
done
if ((${#stopped[@]})); then say "stopped ${stopped[*]}"; else say "nothing was running"; fi
