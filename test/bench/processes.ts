/**
 * Every process the bench starts, and the guarantee that each one ends: stopAll() on every path;
 * should the bench itself be killed, a reaper (switchboard's own) ends the backends and binaries
 * it started (a console's tmux server ends with its session), and hosts end themselves when their
 * IPC channel closes.
 */
import {spawn, type ChildProcess, type StdioOptions} from 'node:child_process';
import {closeSync, mkdirSync, openSync, readFileSync} from 'node:fs';
import path from 'node:path';
import {setTimeout as sleep} from 'node:timers/promises';
import {fileURLToPath} from 'node:url';
import {Reaper} from '../../dist/launchers/reaper.js';
import type {HostReady} from './host.js';
import type {MetricsServersReady, ScrapeCounts} from './metrics-servers.js';
import {isAlive} from '../helpers/switchboard-process.js';
import {TmuxSession, type TerminalSize} from '../helpers/tmux.js';

const cliPath = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const hostPath = fileURLToPath(new URL('host.ts', import.meta.url));
const metricsServersPath = fileURLToPath(new URL('metrics-servers.ts', import.meta.url));
const startTimeoutMs = 30_000;
/** switchboard stops its backend first, which may take the backend's own grace period. */
const stopGraceMs = 15_000;

/** A running server: where it answers, and the process to measure. */
export interface Service {
	readonly name: string;
	readonly url: string;
	readonly pid: number;
	stop(): Promise<void>;
}

/** The servers of test/bench/metrics-servers.ts, and how many scrapes each has answered so far. */
export interface MetricsServers extends Service {
	readonly urls: readonly string[];
	scrapes(): Promise<number[]>;
}

/** switchboard with its console on a terminal: what the terminal shows, and a record of what the console writes to it. */
export interface ConsoleService extends Service {
	screen(): Promise<string>;
	/** Appends everything the console writes to its terminal from now on to `file`. */
	record(file: string): Promise<void>;
}

/** Where test/bench/host.ts burns 8 ms every 100 ms: nowhere, on its main thread, or in another process. */
export type HostBusy = 'none' | 'main' | 'elsewhere';

export class Processes {
	readonly #running = new Set<Child>();
	readonly #sessions = new Set<TmuxSession>();
	readonly #reaper = new Reaper(stopGraceMs, reason => {
		process.stderr.write(`bench: the reaper ended early (${reason}); children may outlive an interrupted run\n`);
	});

	/**
	 * Logs of every process go to files in `workDir`; `switchboardNodeFlags` (e.g. --cpu-prof)
	 * go to every switchboard process, never to backends.
	 */
	constructor(private readonly workDir: string, private readonly switchboardNodeFlags: readonly string[]) {
		mkdirSync(workDir, {recursive: true});
	}

	/** `switchboard sim` on a free port, for direct measurements. */
	async sim(name: string, simFlags: readonly string[]): Promise<Service> {
		const child = this.#spawnReaped(name, [cliPath, 'sim', ...simFlags, '--port', '0']);
		const match = await child.waitFor(() => /Starting vLLM server on (http:\/\/\S+)/.exec(child.log()));
		return child.service(match[1]!);
	}

	/** The switchboard binary, as users run it headless, in front of `switchboard sim <simFlags>`. */
	async switchboard(name: string, simFlags: readonly string[]): Promise<Service> {
		const child = this.#spawnReaped(name, [
			...this.switchboardNodeFlags,
			cliPath, '--no-ui', '--port', '0', '--idle-timeout', '0', '--max-queue', '2000', '--log-dir', this.#backendLogDir(name),
			'--', process.execPath, cliPath, 'sim', ...simFlags,
		]);
		const match = await child.waitFor(() => /"url":"(http:\/\/[^"]+)"/.exec(child.log()));
		return child.service(match[1]!);
	}

	/** The switchboard binary, as users run it headless, serving what the switchboard.toml at `configPath` describes. */
	async switchboardWithConfig(name: string, configPath: string): Promise<Service> {
		const child = this.#spawnReaped(name, [...this.switchboardNodeFlags, cliPath, '--no-ui', '--config', configPath]);
		const match = await child.waitFor(() => /"url":"(http:\/\/[^"]+)"/.exec(child.log()));
		return child.service(match[1]!);
	}

	/**
	 * The switchboard binary as users run it on a terminal, with its console, in front of
	 * `switchboard sim <simFlags>`: in a tmux session of `size` on a tmux server of its own.
	 * Its log and its backend's go to files in the work dir, as the console keeps them off the screen.
	 */
	async switchboardOnTerminal(name: string, simFlags: readonly string[], size: TerminalSize): Promise<ConsoleService> {
		const logDir = this.#backendLogDir(name);
		const session = new TmuxSession([
			process.execPath, ...this.switchboardNodeFlags,
			cliPath, '--port', '0', '--idle-timeout', '0', '--max-queue', '2000', '--log-dir', logDir,
			'--', process.execPath, cliPath, 'sim', ...simFlags,
		], {...size, keepPane: false});
		this.#sessions.add(session);
		this.#reaper.watch(session.pid);
		const stop = async () => this.#stopSession(session);
		// The header names the address once the proxy listens.
		const deadline = Date.now() + startTimeoutMs;
		for (;;) {
			const screen = session.screen().join('\n');
			const match = /^switchboard \S+ +(http:\/\/127\.0\.0\.1:\d+)/m.exec(screen);
			if (match) {
				return {name, url: match[1]!, pid: session.pid, stop, screen: async () => session.screen().join('\n'), record: async file => {
					session.record(file);
				}};
			}

			if (!isAlive(session.pid) || Date.now() > deadline) {
				await stop();
				throw new Error(`${name}'s console ${isAlive(session.pid) ? `showed no address within ${startTimeoutMs / 1000} s` : 'exited before it showed an address'}; `
					+ `its screen:\n${screen}\nits log: ${path.join(logDir, 'switchboard.log')}`);
			}

			await sleep(100);
		}
	}

	/**
	 * `count` idle vLLM look-alikes in one process (test/bench/metrics-servers.ts), each answering
	 * /metrics with the text in `metricsPath`: many backends to scrape, at the cost of one process.
	 */
	async metricsServers(name: string, count: number, metricsPath: string, model: string): Promise<MetricsServers> {
		let ready: MetricsServersReady | undefined;
		const child = this.#spawn(name, ['--import', 'tsx', metricsServersPath, String(count), metricsPath, model], {
			detached: false,
			env: process.env,
			ipc: true,
		});
		const {proc} = child;
		proc.once('message', message => {
			ready = message as MetricsServersReady;
		});
		const {urls} = await child.waitFor(() => ready);
		const scrapes = async () => new Promise<number[]>((resolve, reject) => {
			// The next message is the answer: the bench asks one question at a time.
			proc.once('message', message => {
				resolve((message as ScrapeCounts).scrapes);
			});
			proc.send({type: 'scrapes'}, error => {
				if (error) {
					reject(error);
				}
			});
		});
		return {...child.service(urls[0]!), urls, scrapes};
	}

	/**
	 * switchboard in test/bench/host.ts (the same wiring as the binary), for what only a host can
	 * do: keep its main thread (or, as a control, another process) busy.
	 */
	async host(name: string, simFlags: readonly string[], busy: HostBusy): Promise<Service> {
		let ready: HostReady | undefined;
		const child = this.#spawn(name, [...this.switchboardNodeFlags, '--import', 'tsx', hostPath, this.#backendLogDir(name), ...simFlags], {
			detached: false,
			env: {...process.env, BENCH_BUSY: busy},
			ipc: true,
		});
		child.proc.once('message', message => {
			ready = message as HostReady;
		});
		const {url} = await child.waitFor(() => ready);
		return child.service(url);
	}

	async stopAll(): Promise<void> {
		await Promise.all([...[...this.#running].map(async child => child.stop()), ...[...this.#sessions].map(async session => this.#stopSession(session))]);
		this.#reaper.dismiss();
	}

	/** SIGTERM to the program in the pane, SIGKILL to its group after the grace period; then the tmux server goes. */
	async #stopSession(session: TmuxSession): Promise<void> {
		if (!this.#sessions.delete(session)) {
			return;
		}

		const {pid} = session;
		if (isAlive(pid)) {
			process.kill(pid, 'SIGTERM');
		}

		const deadline = Date.now() + stopGraceMs;
		while (isAlive(pid) && Date.now() < deadline) {
			await sleep(50);
		}

		if (isAlive(pid)) {
			try {
				process.kill(-pid, 'SIGKILL');
			} catch {
				// It ended meanwhile.
			}
		}

		session.kill();
		this.#reaper.forget(pid);
	}

	#backendLogDir(name: string): string {
		return path.join(this.workDir, `${name}-backend`);
	}

	/** In a process group of its own, which the reaper ends if the bench dies first. */
	#spawnReaped(name: string, args: string[]): Child {
		const child = this.#spawn(name, args, {detached: true, env: process.env, ipc: false});
		if (child.pid > 0) {
			this.#reaper.watch(child.pid);
		}

		return child;
	}

	/** Runs node with `args`, its stdout and stderr going to `<workDir>/<name>.log`. */
	#spawn(name: string, args: string[], options: {detached: boolean; env: NodeJS.ProcessEnv; ipc: boolean}): Child {
		const logPath = path.join(this.workDir, `${name}.log`);
		const log = openSync(logPath, 'w');
		try {
			const stdio: StdioOptions = options.ipc ? ['ignore', log, log, 'ipc'] : ['ignore', log, log];
			const proc = spawn(process.execPath, args, {detached: options.detached, env: options.env, stdio});
			const child = new Child(name, proc, logPath, () => {
				this.#running.delete(child);
				this.#reaper.forget(child.pid);
			});
			this.#running.add(child);
			return child;
		} finally {
			// The child has its own copy.
			closeSync(log);
		}
	}
}

class Child {
	readonly #exited: Promise<void>;

	constructor(readonly name: string, readonly proc: ChildProcess, private readonly logPath: string, onExit: () => void) {
		this.#exited = new Promise<void>(resolve => {
			// 'error' alone when it could not start; 'exit' otherwise.
			proc.once('error', () => resolve());
			proc.once('exit', () => resolve());
		}).then(onExit);
	}

	get pid(): number {
		return this.proc.pid ?? 0;
	}

	get running(): boolean {
		return this.proc.exitCode === null && this.proc.signalCode === null;
	}

	log(): string {
		return readFileSync(this.logPath, 'utf8');
	}

	/** Polls `ready` until it gives a value; fails if the process exits or takes too long. */
	async waitFor<T>(ready: () => T | undefined | null): Promise<T> {
		const deadline = Date.now() + startTimeoutMs;
		while (Date.now() < deadline) {
			const value = ready();
			if (value !== undefined && value !== null) {
				return value;
			}

			if (!this.running) {
				throw new Error(`${this.name} exited before it was ready; see ${this.logPath}:\n${this.#logTail()}`);
			}

			await sleep(25);
		}

		throw new Error(`${this.name} was not ready within ${startTimeoutMs / 1000} s; see ${this.logPath}:\n${this.#logTail()}`);
	}

	service(url: string): Service {
		return {name: this.name, url, pid: this.pid, stop: async () => this.stop()};
	}

	/** SIGTERM, then SIGKILL if it has not exited after the grace period. */
	async stop(): Promise<void> {
		if (this.running) {
			this.proc.kill('SIGTERM');
		}

		if (!await settlesWithin(this.#exited, stopGraceMs)) {
			this.proc.kill('SIGKILL');
			await this.#exited;
		}
	}

	#logTail(): string {
		return this.log().split('\n').slice(-15).join('\n');
	}
}

async function settlesWithin(promise: Promise<void>, ms: number): Promise<boolean> {
	const timer = new AbortController();
	try {
		return await Promise.race([promise.then(() => true), sleep(ms, false, {signal: timer.signal})]);
	} finally {
		// Otherwise the timer would hold the bench open.
		timer.abort();
	}
}
