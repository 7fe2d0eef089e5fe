/**
 * The reaper's own process (see reaper.ts). Reads `+PID`/`-PID` lines; when its input ends,
 * sends SIGTERM to each remaining process group, then SIGKILL after the grace period.
 */
import {createInterface} from 'node:readline';
import {groupAlive} from './process-group.js';

const graceMs = Number(process.argv[2] ?? 10_000);
const groups = new Set<number>();

for (const signal of ['SIGINT', 'SIGHUP', 'SIGTERM'] as const) {
	// Ctrl-C in the terminal is for switchboard, which will tell us when it is done.
	process.on(signal, () => undefined);
}

const lines = createInterface({input: process.stdin});
lines.on('line', line => {
	const pid = Number(line.slice(1));
	if (Number.isInteger(pid) && pid > 0) {
		if (line.startsWith('+')) {
			groups.add(pid);
		} else {
			groups.delete(pid);
		}
	}
});
lines.on('close', () => {
	if (groups.size === 0) {
		process.exit(0);
	}

	signalAll('SIGTERM');
	const deadline = Date.now() + graceMs;
	const timer = setInterval(() => {
		for (const pid of groups) {
			if (!groupAlive(pid)) {
				groups.delete(pid);
			}
		}

		if (groups.size === 0 || Date.now() >= deadline) {
			signalAll('SIGKILL');
			clearInterval(timer);
			process.exit(0);
		}
	}, 100);
});

function signalAll(signal: NodeJS.Signals): void {
	for (const pid of groups) {
		try {
			process.kill(-pid, signal);
		} catch {
			groups.delete(pid);
		}
	}
}
