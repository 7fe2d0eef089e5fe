/**
 * What a process costs, read from outside through /proc (Linux), so that measuring
 * switchboard neither runs code in it nor counts the load generator.
 */
import {readFileSync} from 'node:fs';

/** USER_HZ: /proc reports CPU times in these ticks; Linux fixes it at 100 for user space. */
const ticksPerSecond = 100;

/** User plus system CPU time of every thread of `pid` so far, in milliseconds. */
export function cpuTimeMs(pid: number): number {
	const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
	// The command name (field 2) may hold spaces and parentheses; fields after it are plain.
	const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
	// utime and stime are fields 14 and 15; `fields` starts at field 3.
	const ticks = Number(fields[11]) + Number(fields[12]);
	return ticks * 1000 / ticksPerSecond;
}

/** Resident memory of `pid` now, in MB (MiB). */
export function residentMb(pid: number): number {
	const status = readFileSync(`/proc/${pid}/status`, 'utf8');
	const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
	if (!match) {
		throw new Error(`no VmRSS in /proc/${pid}/status`);
	}

	return Number(match[1]) / 1024;
}
