import {readdirSync, readFileSync} from 'node:fs';

/**
 * Whether any process of a process group is still running. Zombies do not count: they hold no
 * GPU or port, only wait for their new parent to reap them, which a container's PID 1 may do late.
 */
export function groupAlive(group: number): boolean {
	try {
		process.kill(-group, 0);
	} catch {
		return false;
	}

	const members = groupMembers(group);
	// No /proc (macOS): the signal test is all there is.
	return members === undefined || members.some(member => member.state !== 'Z');
}

/** The processes of a process group, from /proc; undefined without one. */
export function groupMembers(group: number): Array<{pid: string; state: string}> | undefined {
	let pids: string[];
	try {
		pids = readdirSync('/proc').filter(name => /^\d+$/.test(name));
	} catch {
		return undefined;
	}

	return pids.flatMap(pid => {
		const stat = processStat(pid);
		return stat !== undefined && stat.group === group ? [{pid, state: stat.state}] : [];
	});
}

/** The process group of a process, and its state letter (R, S, Z, …), from /proc. */
export function processStat(pid: string): {state: string; group: number} | undefined {
	try {
		const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
		// After the command name, which is in parentheses and may hold spaces: state, ppid, pgrp.
		const [state, , group] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
		return {state: state!, group: Number(group)};
	} catch {
		return undefined;
	}
}
