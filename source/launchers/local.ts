import {spawn} from 'node:child_process';
import {closeSync} from 'node:fs';
import {setTimeout as sleep} from 'node:timers/promises';
import {openBackendLog, type LogLimits} from './log-files.js';
import {LogFollower} from './log-follower.js';
import {groupAlive} from './process-group.js';
import {probeUntilReady} from './readiness.js';
import type {Reaper} from './reaper.js';
import type {ExitInfo, Instance, InstanceListener, Launch, LaunchSpec} from './types.js';

const logPollMs = 200;

/**
 * Runs a backend as a child process in its own process group, so that stopping it reaches
 * everything it started (vLLM forks engine processes), and watches it until it answers. Each
 * start deletes the oldest log files of its model beyond `logs.keep`, never one a running
 * backend writes to.
 */
export function localLauncher(reaper: Reaper, logs: LogLimits, inUse = new Set<string>()): Launch {
	return (spec, listener) => new LocalInstance(spec, listener, reaper, logs, inUse);
}

class LocalInstance implements Instance {
	readonly url: string;
	readonly pid: number | undefined;
	readonly #exited: Promise<ExitInfo>;
	/** The leader and every process of its group have ended. */
	readonly #gone: Promise<void>;
	#running = true;
	#wanted = true;

	constructor(private readonly spec: LaunchSpec, private readonly listener: InstanceListener, reaper: Reaper, logs: LogLimits, logsInUse: Set<string>) {
		const host = spec.host.includes(':') ? `[${spec.host}]` : spec.host;
		this.url = `http://${host}:${spec.port}`;
		const {fd: logFd, start: logStart} = openBackendLog(spec.logPath, logs, logsInUse, problem => {
			listener.onLog(`switchboard: ${problem}`);
		});

		const [file, ...args] = spec.command;
		// The log file's descriptor goes straight to the child: its output never passes through us.
		const child = spawn(file!, args, {
			detached: true,
			stdio: ['ignore', logFd, logFd],
			env: {...process.env, ...spec.env},
		});
		closeSync(logFd);
		this.pid = child.pid;
		if (this.pid !== undefined) {
			reaper.watch(this.pid);
		}

		const follower = new LogFollower(spec.logPath, logStart, line => {
			listener.onLog(line);
		}, logPollMs, logs.maxBytes);
		this.#exited = new Promise(resolve => {
			const exited = (info: ExitInfo) => {
				if (!this.#running) {
					return;
				}

				this.#running = false;
				// Its last words (often the reason it died) are read before anyone hears of the exit.
				follower.close();
				resolve(info);
			};

			child.once('error', error => {
				if (this.pid === undefined) {
					exited({code: null, signal: null, description: `could not start: ${error.message}`});
				}
			});
			child.once('exit', (code, signal) => {
				exited({code, signal, description: signal ? `was killed by ${signal}` : `exited with code ${code}`});
			});
		});
		this.#gone = this.#exited.then(async () => {
			// The leader is gone; anything it left in its group goes too.
			await this.#endGroup();
			logsInUse.delete(spec.logPath);
			if (this.pid !== undefined) {
				reaper.forget(this.pid);
			}
		});
		void this.#exited.then(info => {
			listener.onExit(info);
		});
		void probeUntilReady({
			url: this.url,
			port: spec.port,
			pingPath: spec.pingPath,
			expectedModel: spec.expectedModel,
			group: this.pid,
		}, spec.model, {
			active: () => this.#running && this.#wanted,
			onLog: line => {
				listener.onLog(line);
			},
			onReady: () => {
				listener.onReady();
			},
		});
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
		return this.pid !== undefined && groupAlive(this.pid);
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
