import {execFile, type ChildProcess} from 'node:child_process';
import {resolveExecutable} from '../../launchers/command.js';
import {systemClock, type Clock, type Timer} from '../../util/clock.js';

/** One GPU as nvidia-smi reports it; a number it could not read (`[N/A]`, `[Not Supported]`) is undefined. */
export interface GpuReading {
	/** As CUDA_VISIBLE_DEVICES names it. */
	index: string;
	name: string;
	utilizationPercent: number | undefined;
	memoryUsedMiB: number | undefined;
	memoryTotalMiB: number | undefined;
}

/** What one poll found: the GPUs, or why nvidia-smi could not say. */
export type GpuPoll = {readings: GpuReading[]} | {error: string};

export const nvidiaSmiArguments = ['--query-gpu=index,name,utilization.gpu,memory.used,memory.total', '--format=csv,noheader,nounits'] as const;

/** Reads the output of `nvidia-smi` run with nvidiaSmiArguments; lines that are not a GPU are skipped. */
export function parseGpuQuery(text: string): GpuReading[] {
	const readings: GpuReading[] = [];
	for (const line of text.split(/\r?\n/)) {
		const fields = line.split(',').map(field => field.trim());
		if (fields.length !== 5 || fields[0] === '') {
			continue;
		}

		const [index, name, utilization, used, total] = fields as [string, string, string, string, string];
		readings.push({index, name, utilizationPercent: readNumber(utilization), memoryUsedMiB: readNumber(used), memoryTotalMiB: readNumber(total)});
	}

	return readings;
}

function readNumber(field: string): number | undefined {
	const value = Number(field);
	return field !== '' && Number.isFinite(value) ? value : undefined;
}

/** Where nvidia-smi is, or undefined on a machine without NVIDIA's driver (the console then shows no GPU strip). */
export function findNvidiaSmi(env: NodeJS.ProcessEnv): string | undefined {
	return resolveExecutable('nvidia-smi', env['PATH'] ?? '');
}

/** Why a run of nvidia-smi gave no readings, in its own words when it said any. */
export class GpuQueryError extends Error {
	override name = 'GpuQueryError';
}

/** Runs the query once and resolves with what nvidia-smi printed; rejects with a GpuQueryError. */
export type GpuQueryRunner = (signal: AbortSignal) => Promise<string>;

export interface NvidiaSmiRunnerOptions {
	env?: NodeJS.ProcessEnv;
	clock?: Clock;
	timeoutMs?: number;
}

/** Runs the real binary, killing it when it has not answered within `timeoutMs`. */
export function nvidiaSmiRunner(program: string, {env = process.env, clock = systemClock, timeoutMs = 5000}: NvidiaSmiRunnerOptions = {}): GpuQueryRunner {
	// A run killed at its deadline that has not exited: nvidia-smi stuck in the driver (a GPU fallen
	// off the bus) ignores even SIGKILL until the kernel lets go, and each new run would stick too.
	let stuck: ChildProcess | undefined;
	return async signal => {
		if (stuck && stuck.exitCode === null && stuck.signalCode === null) {
			throw new GpuQueryError(`an earlier run (pid ${stuck.pid}) is still stuck after being killed; is the GPU driver hung?`);
		}

		return new Promise((resolve, reject) => {
			let deadline: Timer | undefined;
			const child = execFile(program, nvidiaSmiArguments, {env, signal, killSignal: 'SIGKILL', maxBuffer: 1024 * 1024}, (error, stdout, stderr) => {
				if (deadline) {
					clock.clearTimeout(deadline);
				}

				if (error) {
					reject(new GpuQueryError(firstLine(stderr) ?? firstLine(stdout) ?? error.message));
				} else {
					resolve(stdout);
				}
			});
			deadline = clock.setTimeout(() => {
				child.kill('SIGKILL');
				stuck = child;
				reject(new GpuQueryError(`no answer within ${timeoutMs / 1000} s (killed)`));
			}, timeoutMs);
		});
	};
}

function firstLine(text: string): string | undefined {
	return text.split(/\r?\n/).map(line => line.trim()).find(line => line !== '');
}

export interface GpuWatchOptions {
	clock?: Clock;
	intervalMs?: number;
	run?: GpuQueryRunner;
}

/**
 * Polls nvidia-smi off the request path: the next run starts `intervalMs` after the last one ended,
 * so runs never overlap, and a failing one is reported and tried again at the same pace.
 */
export class GpuWatch {
	readonly #onPoll: (poll: GpuPoll) => void;
	readonly #clock: Clock;
	readonly #intervalMs: number;
	readonly #run: GpuQueryRunner;
	readonly #stopping = new AbortController();
	#timer: Timer | undefined;

	constructor(onPoll: (poll: GpuPoll) => void, {clock = systemClock, intervalMs = 3000, run = nvidiaSmiRunner('nvidia-smi')}: GpuWatchOptions = {}) {
		this.#onPoll = onPoll;
		this.#clock = clock;
		this.#intervalMs = intervalMs;
		this.#run = run;
		void this.#poll();
	}

	stop(): void {
		this.#stopping.abort();
		if (this.#timer) {
			this.#clock.clearTimeout(this.#timer);
		}
	}

	async #poll(): Promise<void> {
		const poll = await this.#run(this.#stopping.signal).then(
			(output): GpuPoll => {
				const readings = parseGpuQuery(output);
				// Exit code 0 with words but no GPU: "No devices were found" and the like.
				const said = firstLine(output);
				return readings.length === 0 && said !== undefined ? {error: said} : {readings};
			},
			(error: unknown): GpuPoll => ({error: error instanceof Error ? error.message : String(error)}),
		);
		if (this.#stopping.signal.aborted) {
			return;
		}

		this.#onPoll(poll);
		this.#timer = this.#clock.setTimeout(() => {
			void this.#poll();
		}, this.#intervalMs);
		// The strip is not a reason to keep the process running.
		this.#timer.unref?.();
	}
}
