/**
 * What a process costs, read from outside through /proc (Linux), so that measuring
 * switchboard neither runs code in it nor counts the load generator.
 */
import {readFileSync} from 'node:fs';
import {setTimeout as sleep} from 'node:timers/promises';

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

/** The fraction of the machine's CPU time (all cores) spent busy over the next `ms`. */
export async function machineBusyFraction(ms: number): Promise<number> {
	const before = machineTicks();
	await sleep(ms);
	const after = machineTicks();
	const total = after.total - before.total;
	return total === 0 ? 0 : 1 - ((after.idle - before.idle) / total);
}

function machineTicks(): {total: number; idle: number} {
	// The first line of /proc/stat: cpu user nice system idle iowait irq softirq steal, then guest
	// times that user and nice already include.
	const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
	const total = fields.reduce((sum, value) => sum + value, 0);
	return {total, idle: fields[3]! + fields[4]!};
}
