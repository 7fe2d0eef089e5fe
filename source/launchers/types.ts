import type {SlurmConfig} from '../config/types.js';
import type {JobRecord} from './slurm/job-ledger.js';

/** Everything a launcher needs to bring one backend to life. */
export interface LaunchSpec {
	model: string;
	/** The command with `{host}`/`{port}` already substituted. */
	command: string[];
	host: string;
	port: number;
	pingPath: string;
	/** When known, readiness also requires `/v1/models` to list this name. */
	expectedModel: string | undefined;
	env: Record<string, string>;
	/** The file this start's output goes to. */
	logPath: string;
	stopGraceMs: number;
	/** Its model's idle timeout: a SLURM job a dead switchboard left behind is cancelled after this (0: never). */
	idleTimeoutMs: number;
	/** Run as a SLURM job with these settings; undefined: a local process. */
	slurm: SlurmConfig | undefined;
	/** A job of an earlier run to take over, instead of submitting a new one. */
	adopt?: JobRecord | undefined;
}

/** A backend's SLURM job as squeue last showed it. */
export interface JobStatus {
	/** SLURM's job id, once known (an srun's shows in squeue only once submitted). */
	id: string | undefined;
	name: string;
	/** PENDING, RUNNING, …, as squeue says. */
	state: string;
	/** `waiting` for its allocation (pending, configuring, suspended…), `running`, or `ended`. */
	phase: 'waiting' | 'running' | 'ended';
	/** Why it waits (Resources, Priority, QOSMaxJobsPerUserLimit…), as squeue says. */
	reason: string | undefined;
	node: string | undefined;
	/** Its time limit; undefined: none. */
	timeLimitMs: number | undefined;
	/** When its time limit runs out; undefined: not running, or no limit. */
	endsAt: number | undefined;
}

export interface ExitInfo {
	code: number | null;
	signal: string | null;
	/** Why it ended, in words: "exited with code 1", "could not start: …". */
	description: string;
	/**
	 * Someone outside switchboard ended it on purpose (a SLURM job cancelled by its owner or an
	 * admin, its time limit, a preemption): not a crash, so it is not restarted until a request
	 * asks for it again.
	 */
	outside?: boolean;
}

/** How an instance tells its owner what happened. `onReady` and `onExit` are called at most once, `onExit` last. */
export interface InstanceListener {
	onLog(line: string): void;
	/** Its SLURM job changed: queued, running on a node, its time left (launched as a job only; called any number of times). */
	onJob(job: JobStatus): void;
	onReady(): void;
	onExit(info: ExitInfo): void;
}

/** A running backend. */
export interface Instance {
	readonly pid: number | undefined;
	/** Where it listens; undefined until known (a SLURM job's node). */
	readonly url: string | undefined;
	/** Its SLURM job, for a backend launched as one. */
	readonly job?: JobStatus | undefined;
	/** Ends it and everything it started; resolves once they are gone. */
	stop(): Promise<void>;
}

export type Launch = (spec: LaunchSpec, listener: InstanceListener) => Instance;
