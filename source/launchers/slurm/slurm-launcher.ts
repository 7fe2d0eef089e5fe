import {spawn, type ChildProcess} from 'node:child_process';
import {closeSync} from 'node:fs';
import {setTimeout as sleep} from 'node:timers/promises';
import type {SlurmConfig} from '../../config/types.js';
import {openBackendLog, type LogLimits} from '../log-files.js';
import {LogFollower} from '../log-follower.js';
import {probeUntilReady} from '../readiness.js';
import type {Reaper} from '../reaper.js';
import type {ExitInfo, Instance, InstanceListener, JobStatus, Launch, LaunchSpec} from '../types.js';
import {jobScript, portFromComment} from './job-script.js';
import type {JobLedger} from './job-ledger.js';
import type {JobWatcher} from './job-watcher.js';
import {runSlurm} from './slurm-command.js';
import {isRunning, isWaiting, type QueueEntry} from './squeue.js';

const logPollMs = 200;
/** Ends someone chose (scancel, the time limit, a preemption): not crashes to restart at once. */
const endedOutside = new Set(['CANCELLED', 'TIMEOUT', 'PREEMPTED', 'DEADLINE']);
/** Pending reasons that no wait clears: the job asks for more than its partition, account or QOS allow, or cannot be placed at all. */
const neverRuns = /^(BadConstraints|PartitionConfig|PartitionNodeLimit|PartitionTimeLimit|InvalidAccount|InvalidQOS|AccountNotAllowed|QOSNotAllowed|DependencyNeverSatisfied|(QOS|Assoc)Max\w*PerJob\w*)$/;
/** scancel's SIGTERM turns into SIGKILL after the cluster's KillWait (30 s by default); a stop waits that long and a little more. */
const leaveQueueMs = 45_000;

export interface SlurmLauncherOptions {
	/** This switchboard's mark in its jobs' names (see jobName). */
	owner: string;
	watcher: JobWatcher;
	ledger: JobLedger;
	logs: LogLimits;
	/** The log files of running backends, shared with the local launcher (pruning spares them). */
	logsInUse: Set<string>;
	/** Cancels the jobs of a switchboard that died, if nobody takes them over (see Reaper). */
	reaper: Pick<Reaper, 'watchJob' | 'forgetJob'>;
	/** Where a job's node is reached from here (scontrol's NodeAddr); cached per node. */
	nodeAddress?(node: string): Promise<string>;
}

/** `switchboard-<model>-<owner>-<n>`: unique per submission, and recognisable as ours by a later run. */
export function jobName(model: string, owner: string, serial: string): string {
	return `switchboard-${model.replaceAll(/[^\w.-]+/g, '_')}-${owner}-${serial}`;
}

/** Is this job name one of this switchboard's (with this owner mark)? */
export function isOwnJob(name: string, owner: string): boolean {
	return name.startsWith('switchboard-') && name.includes(`-${owner}-`);
}

/**
 * Runs each backend as a SLURM job: submitted with `sbatch --parsable` (or run under the model's
 * srun command), followed through squeue, reached directly on its node or through the SSH
 * tunnel its script opens, and stopped with scancel (never by killing srun alone: that can leave
 * the job running).
 */
export function slurmLauncher(options: SlurmLauncherOptions): Launch {
	const addresses = new Map<string, Promise<string>>();
	const nodeAddress = options.nodeAddress ?? (async (node: string) => {
		let address = addresses.get(node);
		if (!address) {
			address = scontrolNodeAddress(node);
			addresses.set(node, address);
			address.catch(() => addresses.delete(node));
		}

		return address;
	});
	let serial = 0;
	return (spec, listener) => {
		const name = spec.adopt?.name ?? jobName(spec.model, options.owner, `${Date.now().toString(36)}${(serial++).toString(36)}`);
		return new SlurmInstance(spec, name, listener, {...options, nodeAddress});
	};
}

interface InstanceDeps extends SlurmLauncherOptions {
	nodeAddress(node: string): Promise<string>;
}

class SlurmInstance implements Instance {
	readonly pid: number | undefined;
	#url: string | undefined;
	#job: JobStatus;
	readonly #slurm: SlurmConfig;
	readonly #follower: LogFollower;
	#unfollow: () => void = () => undefined;
	/** sbatch's answer, or the srun client's start. */
	readonly #submitted: Promise<void>;
	readonly #srun: ChildProcess | undefined;
	#srunExit: ExitInfo | undefined;
	#running = false;
	/** Finding where it listens and waiting for it to answer is under way. */
	#reaching = false;
	#ready = false;
	#wanted = true;
	#ended = false;
	readonly #exited: Promise<void>;
	#resolveExited!: () => void;

	constructor(private readonly spec: LaunchSpec, name: string, private readonly listener: InstanceListener, private readonly deps: InstanceDeps) {
		this.#slurm = spec.slurm!;
		this.#job = {id: spec.adopt?.id, name, state: 'PENDING', phase: 'waiting', reason: undefined, node: undefined, timeLimitMs: undefined, endsAt: undefined};
		this.#exited = new Promise(resolve => {
			this.#resolveExited = resolve;
		});
		if (this.#slurm.reach === 'tunnel') {
			this.#url = `http://127.0.0.1:${spec.port}`;
		}

		const {fd, start} = openBackendLog(spec.logPath, deps.logs, deps.logsInUse, problem => {
			listener.onLog(`switchboard: ${problem}`);
		});
		this.#follower = new LogFollower(spec.logPath, start, line => {
			listener.onLog(line);
		}, logPollMs, deps.logs.maxBytes);
		if (spec.adopt) {
			closeSync(fd);
			this.#submitted = Promise.resolve();
			this.#known(spec.adopt.id);
			this.#follow();
			return;
		}

		deps.ledger.add({name, id: undefined, model: spec.model, port: spec.port, logPath: spec.logPath, submittedAt: Date.now(), owner: process.pid});
		const script = jobScript({
			model: spec.model,
			command: spec.command,
			env: spec.env,
			// Ports from the job's id: jobs that start together on one node (other switchboards' too) try different ones.
			firstPort: 'by job id',
			tunnel: this.#slurm.tunnel && this.#slurm.reach === 'tunnel' ? {...this.#slurm.tunnel, port: spec.port} : undefined,
		});
		const output = [`--job-name=${name}`, `--output=${spec.logPath}`, '--open-mode=append'];
		if (this.#slurm.srunCommand) {
			const [program, ...args] = this.#slurm.srunCommand;
			// srun's own messages (an allocation refused) go to the same file as the job's output.
			this.#srun = spawn(program!, [...args, ...output, 'bash', '-c', script], {detached: true, stdio: ['ignore', fd, fd]});
			closeSync(fd);
			this.pid = this.#srun.pid;
			this.#srun.once('error', error => {
				this.#srunEnded({code: null, signal: null, description: `could not run ${program}: ${error.message}`});
			});
			this.#srun.once('exit', (code, signal) => {
				this.#srunEnded({code, signal, description: `srun ${signal ? `was killed by ${signal}` : `exited with code ${code}`}`});
			});
			this.#submitted = Promise.resolve();
			this.#follow();
			return;
		}

		closeSync(fd);
		this.#submitted = this.#sbatch(name, output, script);
	}

	get url(): string | undefined {
		return this.#url;
	}

	get job(): JobStatus {
		return this.#job;
	}

	async stop(): Promise<void> {
		this.#wanted = false;
		await this.#submitted;
		if (!this.#ended) {
			const {id, name} = this.#job;
			await this.#cancel();

			// Stopped only once the job has left squeue: until then it may hold its GPU. The watcher
			// polls at its fast pace while this job is not settled.
			void this.deps.watcher.pollNow();
			await Promise.race([this.#exited, sleep(leaveQueueMs)]);
			if (!this.#ended) {
				this.listener.onLog(`switchboard: SLURM job ${id ?? name} was still in squeue ${leaveQueueMs / 1000} s after scancel; it may still hold its node (the reaper cancels it again if switchboard dies)`);
				this.#finish(`${jobLabel(this.#job)} did not leave the queue after scancel`, {keepRecord: true});
			}
		}

		await this.#srunGone();
	}

	async #sbatch(name: string, output: string[], script: string): Promise<void> {
		const {sbatch} = this.#slurm;
		const args = ['--parsable', ...output,
			...optional('--partition', sbatch.partition), ...optional('--gres', sbatch.gres), ...optional('--mem', sbatch.mem),
			...optional('--time', sbatch.time), ...optional('--qos', sbatch.qos), ...optional('--account', sbatch.account),
			...sbatch.extra];
		try {
			const answer = await runSlurm('sbatch', args, script);
			// --parsable prints "<id>" or "<id>;<cluster>".
			const id = answer.trim().split(';')[0]!;
			this.#job = {...this.#job, id};
			this.#known(id);
			this.listener.onLog(`switchboard: submitted SLURM job ${id} (${name}): sbatch ${args.join(' ')}`);
			this.listener.onJob(this.#job);
			this.#follow();
		} catch (error) {
			const lines = (error as Error).message.split('\n');
			for (const line of lines) {
				this.listener.onLog(line);
			}

			// sbatch may have submitted it before failing to answer (a timeout): no job of this name may stay behind.
			const cancelled = await runSlurm('scancel', [`--name=${name}`]).then(() => true, () => false);
			const last = lines.at(-1)!;
			this.#finish(`could not be submitted to SLURM: ${last}`, {keepRecord: !cancelled && /did not answer/.test(last)});
		}
	}

	/** Its id is known: recorded, and watched by the reaper in case switchboard dies. */
	#known(id: string | undefined): void {
		if (id === undefined) {
			return;
		}

		this.deps.ledger.update(this.#job.name, {id});
		this.deps.reaper.watchJob(id, this.spec.idleTimeoutMs);
	}

	#follow(): void {
		this.#unfollow = this.deps.watcher.follow({
			name: this.#job.name,
			seen: entry => {
				this.#saw(entry);
			},
			settled: () => this.#ready && this.#wanted,
		});
	}

	#saw(entry: QueueEntry | undefined): void {
		if (this.#ended) {
			return;
		}

		if (!entry) {
			// Submitted (or listed once) and gone now: purged from squeue (MinJobAge) before we saw how it ended.
			if (this.#job.id !== undefined) {
				this.#finish(`${jobLabel(this.#job)} left the queue`);
			} else if (this.#srunExit) {
				this.#finish(this.#srunExit.description);
			}

			return;
		}

		const before = this.#job;
		this.#job = {
			id: entry.id,
			name: entry.name,
			state: entry.state,
			phase: isWaiting(entry.state) ? 'waiting' : isRunning(entry.state) ? 'running' : 'ended',
			reason: entry.reason,
			node: entry.node,
			timeLimitMs: entry.timeLimitMs,
			endsAt: isRunning(entry.state) && entry.timeLeftMs !== undefined ? Date.now() + entry.timeLeftMs : undefined,
		};
		if (before.id === undefined) {
			this.#known(entry.id);
		}

		if (before.state !== entry.state || before.reason !== entry.reason || before.node !== entry.node || before.id !== entry.id) {
			this.listener.onJob(this.#job);
		}

		if (isWaiting(entry.state)) {
			if (this.#running) {
				// Requeued (by an admin, or after a node failure): the backend it ran is gone.
				void this.#cancel();
				this.#finish(`${jobLabel(this.#job)} was requeued by SLURM`);
			} else if (entry.reason && neverRuns.test(entry.reason)) {
				void this.#cancel();
				this.#finish(`${jobLabel(this.#job)} can never run as submitted: squeue says ${entry.reason}`);
			}

			return;
		}

		// COMPLETING: its processes are being ended; how it ended shows at the next poll.
		if (entry.state === 'COMPLETING') {
			return;
		}

		if (!isRunning(entry.state)) {
			// A srun that ended unasked cancels its job: a crash, not someone's choice.
			this.#finish(endOf(entry), {outside: endedOutside.has(entry.state) && !this.#srunExit});
			return;
		}

		this.#running = true;
		if (!this.#reaching) {
			this.#reaching = true;
			void this.#reach(entry).finally(() => {
				this.#reaching = false;
			});
		}
	}

	/** scancel for a job that has to go, whatever its state; a failure is only logged (the reaper and the next start try again). */
	async #cancel(): Promise<void> {
		const {id, name} = this.#job;
		try {
			await runSlurm('scancel', id === undefined ? [`--name=${name}`] : [id]);
		} catch (error) {
			this.listener.onLog(`switchboard: scancel ${id ?? name} failed: ${(error as Error).message}`);
		}
	}

	/** Finds where the running job's backend listens (a direct job tells its port in its comment), then waits for it. */
	async #reach(entry: QueueEntry): Promise<void> {
		if (this.#url === undefined) {
			const port = portFromComment(entry.comment);
			if (port === undefined || entry.node === undefined) {
				// The script records the port a moment after the job starts; the next poll sees it.
				return;
			}

			try {
				const address = await this.deps.nodeAddress(entry.node.split(',')[0]!);
				this.#url = `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
			} catch (error) {
				this.listener.onLog(`switchboard: cannot find the address of node ${entry.node}: ${(error as Error).message}`);
				return;
			}
		}

		await probeUntilReady({
			url: this.#url,
			port: Number(new URL(this.#url).port),
			pingPath: this.spec.pingPath,
			expectedModel: this.spec.expectedModel,
			// Whatever else listens on that node could answer too: its /v1/models tells ours.
			group: undefined,
		}, this.spec.model, {
			active: () => this.#wanted && !this.#ended,
			onLog: line => {
				this.listener.onLog(line);
			},
			onReady: () => {
				this.#ready = true;
				this.listener.onReady();
			},
		});
	}

	#srunEnded(info: ExitInfo): void {
		this.#srunExit = info;
		// Did the job end with it, or was it never allocated? squeue says.
		void this.deps.watcher.pollNow();
	}

	async #srunGone(): Promise<void> {
		const srun = this.#srun;
		if (!srun?.pid || this.#srunExit) {
			return;
		}

		const exited = new Promise<boolean>(resolve => {
			srun.once('exit', () => {
				resolve(true);
			});
		});
		if (!await Promise.race([exited, sleep(this.spec.stopGraceMs, false)])) {
			try {
				process.kill(-srun.pid, 'SIGKILL');
			} catch {
				// Gone meanwhile.
			}
		}
	}

	/**
	 * It is over for switchboard: `outside` when someone chose to end it; `keepRecord` when it may
	 * still hold its node, so that the reaper and the next start still know it.
	 */
	#finish(description: string, {outside = false, keepRecord = false}: {outside?: boolean; keepRecord?: boolean} = {}): void {
		if (this.#ended) {
			return;
		}

		this.#ended = true;
		this.#unfollow();
		if (!keepRecord) {
			this.deps.ledger.remove(this.#job.name);
			if (this.#job.id !== undefined) {
				this.deps.reaper.forgetJob(this.#job.id);
			}
		}

		// Its last words are read before anyone hears of the end.
		this.#follower.close();
		this.deps.logsInUse.delete(this.spec.logPath);
		this.#resolveExited();
		this.listener.onExit({code: null, signal: null, description, outside});
	}

}

/** "(SLURM job 12)", as it reads after its model's name; by name until its id is known. */
function jobLabel(job: Pick<JobStatus, 'id' | 'name'>): string {
	return `(SLURM job ${job.id ?? job.name})`;
}

function optional(flag: string, value: string | undefined): string[] {
	return value === undefined ? [] : [`${flag}=${value}`];
}

/** How a job's end reads after its model's name: from its final state in squeue. */
function endOf(entry: QueueEntry): string {
	const job = jobLabel(entry);
	const reason = entry.reason ? ` (${entry.reason})` : '';
	switch (entry.state) {
		case 'CANCELLED': {
			return `${job} was cancelled${reason}`;
		}

		case 'FAILED': {
			return `${job} failed${reason}`;
		}

		case 'TIMEOUT': {
			return `${job} reached its time limit`;
		}

		case 'NODE_FAIL': {
			return `${job} ended because its node ${entry.node ?? ''} failed`;
		}

		case 'PREEMPTED': {
			return `${job} was preempted`;
		}

		case 'OUT_OF_MEMORY': {
			return `${job} ran out of memory`;
		}

		case 'BOOT_FAIL': {
			return `${job} ended because its node failed to boot`;
		}

		case 'DEADLINE': {
			return `${job} missed its deadline`;
		}

		case 'COMPLETED': {
			return `${job} ended (its script exited)`;
		}

		default: {
			return `${job} ended as ${entry.state}${reason}`;
		}
	}
}

async function scontrolNodeAddress(node: string): Promise<string> {
	const shown = await runSlurm('scontrol', ['show', 'node', node, '-o']);
	return /NodeAddr=(\S+)/.exec(shown)?.[1] ?? node;
}
