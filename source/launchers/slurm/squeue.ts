import {parseSlurmDuration} from './slurm-time.js';

/** One line of squeue about a job, parsed. */
export interface QueueEntry {
	id: string;
	/** PENDING, RUNNING, COMPLETING, CANCELLED, FAILED, TIMEOUT, NODE_FAIL, … */
	state: string;
	/** Why it waits or ended (Resources, Priority, QOSMaxJobsPerUserLimit, NonZeroExitCode…); undefined for "None". */
	reason: string | undefined;
	/** The node it runs on, once it runs. */
	node: string | undefined;
	timeLimitMs: number | undefined;
	timeLeftMs: number | undefined;
	/** The job's comment, which switchboard's job script sets to tell where its backend listens. */
	comment: string | undefined;
	name: string;
}

/** What squeue is asked to print: the name last, so that nothing in it can shift the other fields. */
export const queueFormat = '%i|%T|%r|%N|%l|%L|%k|%j';

/** States in which a job still holds, or waits for, its allocation. */
const waitingStates = new Set(['PENDING', 'CONFIGURING', 'REQUEUED', 'REQUEUE_HOLD', 'REQUEUE_FED', 'RESIZING', 'SUSPENDED', 'STOPPED']);

export function isWaiting(state: string): boolean {
	return waitingStates.has(state);
}

export function isRunning(state: string): boolean {
	return state === 'RUNNING';
}

/** Lines printed with `-h -o queueFormat`. */
export function parseQueue(stdout: string): QueueEntry[] {
	const entries: QueueEntry[] = [];
	for (const line of stdout.split('\n')) {
		const fields = line.split('|');
		if (fields.length < 8) {
			continue;
		}

		const [id, state, reason, node, limit, left, comment] = fields as [string, string, string, string, string, string, string];
		entries.push({
			id: id.trim(),
			state: state.trim(),
			reason: unset(reason),
			node: unset(node),
			timeLimitMs: parseSlurmDuration(limit),
			timeLeftMs: parseSlurmDuration(left),
			comment: unset(comment),
			name: fields.slice(7).join('|').trim(),
		});
	}

	return entries;
}

/** squeue's words for "nothing here". */
function unset(field: string): string | undefined {
	const value = field.trim();
	return value === '' || value === 'None' || value === '(null)' || value === 'n/a' ? undefined : value;
}
