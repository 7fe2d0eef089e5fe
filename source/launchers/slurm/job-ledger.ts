import {readFileSync} from 'node:fs';
import path from 'node:path';
import {z} from 'zod';
import {writeFileAtomic} from '../../util/atomic-file.js';

/** A job switchboard submitted, kept on disk until it ends so that a restarted switchboard finds it. */
export interface JobRecord {
	/** Its job name: switchboard-<model>-<owner>-<n>. */
	name: string;
	/** SLURM's id, once sbatch (or squeue, for srun) told it. */
	id: string | undefined;
	model: string;
	/** The port switchboard reaches it on: the tunnel's, or the first one the job tried on its node. */
	port: number;
	logPath: string;
	submittedAt: number;
	/** The pid of the switchboard that owns it now: its reaper cancels it only while this is the one that died. */
	owner: number;
}

/** Where the ledger of a state directory is. */
export function jobLedgerFile(stateDir: string): string {
	return path.join(stateDir, 'slurm-jobs.json');
}

const recordEntry = z.object({
	name: z.string().min(1),
	id: z.string().optional(),
	model: z.string(),
	port: z.int(),
	log_path: z.string(),
	submitted_at: z.number(),
	owner: z.int().default(0),
});

/**
 * The SLURM jobs switchboard owns, in `<state dir>/slurm-jobs.json`, written whole at every change.
 * A file that cannot be read is set aside with a warning rather than stopping switchboard: its jobs
 * are still found by their names (see recoverJobs).
 */
export class JobLedger {
	#records: JobRecord[] = [];

	constructor(private readonly file: string | undefined, private readonly onProblem: (message: string) => void) {
		if (file) {
			this.#records = this.#read(file);
		}
	}

	get records(): readonly JobRecord[] {
		return this.#records;
	}

	add(record: JobRecord): void {
		this.#records = [...this.#records.filter(other => other.name !== record.name), record];
		this.#save();
	}

	update(name: string, changes: Partial<Pick<JobRecord, 'id' | 'owner'>>): void {
		this.#records = this.#records.map(record => record.name === name ? {...record, ...changes} : record);
		this.#save();
	}

	remove(name: string): void {
		if (this.#records.some(record => record.name === name)) {
			this.#records = this.#records.filter(record => record.name !== name);
			this.#save();
		}
	}

	#read(file: string): JobRecord[] {
		let text: string;
		try {
			text = readFileSync(file, 'utf8');
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
				this.onProblem(`cannot read ${file} (${(error as Error).message}); switchboard finds its SLURM jobs by their names instead`);
			}

			return [];
		}

		try {
			const entries = z.object({jobs: z.array(recordEntry)}).parse(JSON.parse(text)).jobs;
			return entries.map(entry => ({name: entry.name, id: entry.id, model: entry.model, port: entry.port, logPath: entry.log_path, submittedAt: entry.submitted_at, owner: entry.owner}));
		} catch (error) {
			this.onProblem(`${file} is not a list of jobs (${(error as Error).message.split('\n')[0]}); switchboard finds its SLURM jobs by their names instead`);
			return [];
		}
	}

	#save(): void {
		if (!this.file) {
			return;
		}

		const jobs = this.#records.map(record => ({name: record.name, id: record.id, model: record.model, port: record.port, log_path: record.logPath, submitted_at: record.submittedAt, owner: record.owner}));
		try {
			writeFileAtomic(this.file, JSON.stringify({jobs}, null, '\t') + '\n');
		} catch (error) {
			this.onProblem(`cannot write ${this.file} (${(error as Error).message}); if switchboard dies now, its next start finds these jobs by their names`);
		}
	}
}
