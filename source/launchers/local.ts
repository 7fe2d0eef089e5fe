import {createWriteStream, mkdirSync} from 'node:fs';
import path from 'node:path';
import {setTimeout as sleep} from 'node:timers/promises';
import {execa} from 'execa';
import {LineSplitter} from './line-splitter.js';
import {checkReadiness} from './readiness.js';
import type {Reaper} from './reaper.js';
import type {ExitInfo, Instance, InstanceListener, Launch, LaunchSpec} from './types.js';

const probeIntervalMs = 250;

/**
 * Runs a backend as a child process in its own process group, so that stopping it reaches
 * everything it started (vLLM forks engine processes), and watches it until it answers.
 */
export function localLauncher(reaper: Reaper): Launch {
	return (spec, listener) => new LocalInstance(spec, listener, reaper);
}

class LocalInstance implements Instance {
	readonly url: string;
	readonly pid: number | undefined;
	readonly #exited: Promise<ExitInfo>;
	/** The leader and every process of its group have ended. */
	readonly #gone: Promise<void>;
	#running = true;
	#wanted = true;

	constructor(private readonly spec: LaunchSpec, private readonly listener: InstanceListener, reaper: Reaper) {
		const host = spec.host.includes(':') ? `[${spec.host}]` : spec.host;
		this.url = `http://${host}:${spec.port}`;
		mkdirSync(path.dirname(spec.logPath), {recursive: true});
		const logFile = createWriteStream(spec.logPath, {flags: 'a'});
		const [file, ...args] = spec.command;
		const child = execa(file!, args, {
			detached: true,
			stdin: 'ignore',
			buffer: false,
			reject: false,
			cleanup: false,
			env: spec.env,
		});
		this.pid = child.pid;
		if (this.pid !== undefined) {
			reaper.watch(this.pid);
		}
		for (const stream of [child.stdout, child.stderr]) {
			const lines = new LineSplitter(line => {
				listener.onLog(line);
			});
			stream.on('data', (chunk: Buffer) => {
				logFile.write(chunk);
				lines.push(chunk);
			});
			stream.once('end', () => {
				lines.flush();
			});
		}

		this.#exited = child.then(result => {
			this.#running = false;
			logFile.end();
			return {
				code: result.exitCode ?? null,
				signal: result.signal ?? null,
				description: describeExit(result),
			};
		});
		this.#gone = this.#exited.then(async () => {
			// The leader is gone; anything it left in its group goes too.
			await this.#endGroup();
			if (this.pid !== undefined) {
				reaper.forget(this.pid);
			}
		});
		void this.#exited.then(info => {
			listener.onExit(info);
		});
		void this.#probe();
	}

	async stop(): Promise<void> {
		this.#wanted = false;
		if (this.#running) {
			this.#signal('SIGTERM');
			const exited = await Promise.race([this.#exited.then(() => true), sleep(this.spec.stopGraceMs, false)]);
			if (!exited) {
				this.#signal('SIGKILL');
			}
		}

		await this.#gone;
	}

	async #probe(): Promise<void> {
		let warned = false;
		while (this.#running && this.#wanted) {
			const readiness = await checkReadiness(this.url, this.spec.pingPath, this.spec.expectedModel);
			if (readiness.ready) {
				if (this.#running && this.#wanted) {
					this.listener.onReady();
				}

				return;
			}

			if (readiness.foreignModels && !warned) {
				warned = true;
				this.listener.onLog(`switchboard: port ${this.spec.port} answers for ${readiness.foreignModels.join(', ') || 'no model'}, not ${this.spec.expectedModel}: another server holds it; waiting for ours`);
			}

			await sleep(probeIntervalMs);
		}
	}

	/** SIGTERM to whatever remains of the group, SIGKILL after the grace period. */
	async #endGroup(): Promise<void> {
		if (!this.#groupAlive()) {
			return;
		}

		this.#signal('SIGTERM');
		const deadline = Date.now() + this.spec.stopGraceMs;
		while (this.#groupAlive() && Date.now() < deadline) {
			await sleep(50);
		}

		this.#signal('SIGKILL');
	}

	#groupAlive(): boolean {
		if (this.pid === undefined) {
			return false;
		}

		try {
			process.kill(-this.pid, 0);
			return true;
		} catch {
			return false;
		}
	}

	#signal(signal: NodeJS.Signals): void {
		if (this.pid === undefined) {
			return;
		}

		try {
			process.kill(-this.pid, signal);
		} catch {
			// Already gone.
		}
	}
}

function describeExit(result: {exitCode?: number; signal?: string; failed: boolean; originalMessage?: string; shortMessage?: string}): string {
	if (result.exitCode === undefined && result.signal === undefined) {
		return `could not start: ${result.originalMessage ?? result.shortMessage ?? 'unknown error'}`;
	}

	return result.signal ? `was killed by ${result.signal}` : `exited with code ${result.exitCode}`;
}
