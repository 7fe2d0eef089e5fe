import {createHash} from 'node:crypto';
import path from 'node:path';
import type {ModelConfig} from '../config/types.js';
import {localLauncher} from './local.js';
import type {LogLimits} from './log-files.js';
import type {Reaper} from './reaper.js';
import {JobLedger, jobLedgerFile, type JobRecord} from './slurm/job-ledger.js';
import {JobWatcher} from './slurm/job-watcher.js';
import {recoverJobs} from './slurm/recover.js';
import {slurmLauncher} from './slurm/slurm-launcher.js';
import type {Launch} from './types.js';

export interface LaunchersOptions {
	reaper: Reaper;
	logs: LogLimits;
	/** Where the SLURM jobs switchboard owns are recorded (and what marks them as this switchboard's). */
	stateDir: string;
	slurmPollMs: number;
	log(level: 'info' | 'warn', message: string): void;
}

export interface Launchers {
	/** Starts a backend: a local process, or a SLURM job for a model whose launcher is slurm. */
	launch: Launch;
	/** The SLURM jobs of an earlier run to take over; the others it left are cancelled (see recoverJobs). */
	recoverJobs(models: readonly ModelConfig[]): Promise<JobRecord[]>;
}

export function launchers(options: LaunchersOptions): Launchers {
	// One set for both: pruning a model's old logs never deletes a file a running backend writes.
	const logsInUse = new Set<string>();
	const local = localLauncher(options.reaper, options.logs, logsInUse);
	const ledger = new JobLedger(jobLedgerFile(options.stateDir), message => {
		options.log('warn', message);
	});
	// One switchboard per state directory: its path tells this switchboard's jobs from another's.
	const owner = createHash('sha256').update(path.resolve(options.stateDir)).digest('hex').slice(0, 6);
	const watcher = new JobWatcher({
		pollMs: options.slurmPollMs,
		onProblem(message) {
			options.log('warn', message);
		},
	});
	const slurm = slurmLauncher({owner, watcher, ledger, logs: options.logs, logsInUse, reaper: options.reaper});
	return {
		launch: (spec, listener) => spec.slurm ? slurm(spec, listener) : local(spec, listener),
		// Each job taken over is given to this switchboard's reaper as its instance starts (see SlurmInstance).
		recoverJobs: async models => recoverJobs({owner, ledger, models, log: options.log}),
	};
}
