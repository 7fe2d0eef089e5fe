/**
 * The reaper's own process (see reaper.ts). Reads `+PID`/`-PID` and `+job ID MS`/`-job ID` lines;
 * when its input ends, sends SIGTERM to each remaining process group, then SIGKILL after the grace
 * period, and cancels each SLURM job still recorded as switchboard's once its time is up.
 */
import {execFile} from 'node:child_process';
import {readFileSync} from 'node:fs';
import {createInterface} from 'node:readline';
import {groupAlive} from './process-group.js';

const graceMs = Number(process.argv[2] ?? 10_000);
const ledgerFile = process.argv[3] ?? '';
/** Whose jobs these are: a job the ledger gives to another switchboard was taken over. */
const owner = process.ppid;
const groups = new Set<number>();
/** SLURM job ids, and how long each may outlive switchboard. */
const jobs = new Map<string, number>();
/** How often the ledger is read while jobs wait: a takeover ends the wait early. */
const ledgerPollMs = 2000;

for (const signal of ['SIGINT', 'SIGHUP', 'SIGTERM'] as const) {
	// Ctrl-C in the terminal is for switchboard, which will tell us when it is done.
	process.on(signal, () => undefined);
}

const lines = createInterface({input: process.stdin});
lines.on('line', line => {
	const job = /^([+-])job (\S+)(?: (\d+))?$/.exec(line);
	if (job) {
		if (job[1] === '+') {
			jobs.set(job[2]!, Number(job[3] ?? 0));
		} else {
			jobs.delete(job[2]!);
		}

		return;
	}

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
	const ended = Promise.all([endGroups(), cancelOrphanedJobs()]);
	void ended.then(() => process.exit(0));
});

async function endGroups(): Promise<void> {
	if (groups.size === 0) {
		return;
	}

	signalAll('SIGTERM');
	const deadline = Date.now() + graceMs;
	let resolve!: () => void;
	const done = new Promise<void>(settle => {
		resolve = settle;
	});
	const timer = setInterval(() => {
		for (const pid of groups) {
			if (!groupAlive(pid)) {
				groups.delete(pid);
			}
		}

		if (groups.size === 0 || Date.now() >= deadline) {
			signalAll('SIGKILL');
			clearInterval(timer);
			resolve();
		}
	}, 100);
	await done;
}

/**
 * Waits out each job's time, reading the ledger meanwhile: a job that left it (ended, or
 * cancelled by a restarted switchboard) or that it gives to another switchboard is not ours to
 * cancel any more. Jobs with no time (an idle timeout of 0) are left to their time limit.
 */
async function cancelOrphanedJobs(): Promise<void> {
	const started = Date.now();
	for (const [id, ms] of jobs) {
		if (ms === 0) {
			jobs.delete(id);
		}
	}

	while (jobs.size > 0) {
		const ours = ownJobs();
		for (const [id, ms] of jobs) {
			if (!ours.has(id)) {
				jobs.delete(id);
			} else if (Date.now() - started >= ms) {
				jobs.delete(id);
				execFile('scancel', [id], () => undefined);
			}
		}

		await new Promise(resolve => setTimeout(resolve, ledgerPollMs));
	}
}

/** The ids the ledger still gives to the switchboard that died. */
function ownJobs(): Set<string> {
	try {
		const {jobs: records} = JSON.parse(readFileSync(ledgerFile, 'utf8')) as {jobs: Array<{id?: string; owner?: number}>};
		return new Set(records.filter(record => record.owner === owner && record.id !== undefined).map(record => record.id!));
	} catch {
		// No ledger (it was never written, or deleted): nothing is known to be ours.
		return new Set();
	}
}

function signalAll(signal: NodeJS.Signals): void {
	for (const pid of groups) {
		try {
			process.kill(-pid, signal);
		} catch {
			groups.delete(pid);
		}
	}
}
