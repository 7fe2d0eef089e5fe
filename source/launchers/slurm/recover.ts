import type {ModelConfig} from '../../config/types.js';
import type {JobLedger, JobRecord} from './job-ledger.js';
import {isOwnJob} from './slurm-launcher.js';
import {runSlurm} from './slurm-command.js';
import {isRunning, parseQueue, queueFormat, type QueueEntry} from './squeue.js';

export interface RecoveryOptions {
	owner: string;
	ledger: JobLedger;
	/** The models configured now. */
	models: readonly ModelConfig[];
	log(level: 'info' | 'warn', message: string): void;
	/** Defaults to squeue: this user's jobs that have not ended. */
	listJobs?(): Promise<QueueEntry[]>;
	/** Defaults to scancel. */
	cancel?(id: string): Promise<void>;
}

/**
 * Finds the SLURM jobs an earlier run of switchboard left behind (it was killed, or its host
 * rebooted): those in its ledger, and any job whose name carries its mark (submitted just before
 * it died, before the ledger was written). A running job of a model that is still configured as
 * a SLURM model is returned, to be taken over without a reload; every other one is cancelled, so
 * that no GPU stays held for nobody.
 */
export async function recoverJobs(options: RecoveryOptions): Promise<JobRecord[]> {
	const {ledger} = options;
	const slurmModels = new Map(options.models.filter(model => model.launcher === 'slurm').map(model => [model.name, model]));
	if (ledger.records.length === 0 && slurmModels.size === 0) {
		// Nothing of ours can be in a queue: not a word to squeue (this may not even be a cluster).
		return [];
	}

	let entries: QueueEntry[];
	try {
		entries = await (options.listJobs ?? listOwnJobs)();
	} catch (error) {
		if (ledger.records.length > 0) {
			options.log('warn', `cannot list SLURM jobs to find those an earlier switchboard left (${ledger.records.map(record => record.id ?? record.name).join(', ')}): ${(error as Error).message}`);
		}

		return [];
	}

	const cancel = options.cancel ?? (async (id: string) => {
		await runSlurm('scancel', [id]);
	});
	const adopted: JobRecord[] = [];
	const listed = new Set<string>();
	for (const entry of entries) {
		const record = ledger.records.find(candidate => candidate.name === entry.name);
		if (!record && !isOwnJob(entry.name, options.owner)) {
			continue;
		}

		listed.add(entry.name);
		const model = record && slurmModels.get(record.model);
		if (record && model && isRunning(entry.state)) {
			options.log('info', `taking over SLURM job ${entry.id} of ${record.model}, left running by an earlier switchboard`);
			// Ours from now on: the dead switchboard's reaper leaves it alone.
			ledger.update(record.name, {id: entry.id, owner: process.pid});
			adopted.push({...record, id: entry.id, owner: process.pid});
			continue;
		}

		const why = !record
			? 'an earlier switchboard submitted it and did not live to record it'
			: !model
				? `${record.model} is not one of the SLURM models configured now`
				: `it was still ${entry.state.toLowerCase()}, and nobody waits for it now`;
		try {
			await cancel(entry.id);
			options.log('info', `cancelled SLURM job ${entry.id} (${entry.name}) left by an earlier switchboard: ${why}`);
		} catch (error) {
			options.log('warn', `cannot cancel SLURM job ${entry.id} (${entry.name}) left by an earlier switchboard: ${(error as Error).message}`);
		}

		if (record) {
			ledger.remove(record.name);
		}
	}

	// Those no longer listed ended while no switchboard watched them.
	for (const record of ledger.records) {
		if (!listed.has(record.name)) {
			ledger.remove(record.name);
		}
	}

	return adopted;
}

async function listOwnJobs(): Promise<QueueEntry[]> {
	return parseQueue(await runSlurm('squeue', ['--me', '-h', '-o', queueFormat]));
}
