import {spawn, type ChildProcess} from 'node:child_process';
import {mkdtempSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {processStat} from '../../source/launchers/process-group.js';

export const cliPath = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

/** The command that runs `switchboard sim` as a backend. */
export function simCommand(...flags: string[]): string[] {
	return [process.execPath, cliPath, 'sim', '--model', 'test-model', ...flags];
}

export interface LogLine {
	level: number;
	msg: string;
	[key: string]: unknown;
}

/** The real binary, headless, on an ephemeral port, its JSON log lines collected. */
export class SwitchboardProcess {
	readonly child: ChildProcess;
	readonly lines: LogLine[] = [];
	stderr = '';
	url = '';
	readonly exited: Promise<{code: number | null; signal: string | null}>;
	readonly logDir: string;

	constructor(flags: string[], command: string[]) {
		this.logDir = mkdtempSync(path.join(os.tmpdir(), 'switchboard-test-'));
		const logDir = flags.includes('--log-dir') ? [] : ['--log-dir', this.logDir];
		// The operator's choices stay in the test's own directory unless it names one (to restart over it).
		const stateDir = flags.includes('--state-dir') ? [] : ['--state-dir', this.logDir];
		// An ephemeral port unless the test names one (to restart on it).
		const port = flags.includes('--port') ? [] : ['--port', '0'];
		this.child = spawn(process.execPath, [cliPath, '--no-ui', ...port, ...logDir, ...stateDir, ...flags, '--', ...command], {
			stdio: ['ignore', 'pipe', 'pipe'],
		});
		let partial = '';
		this.child.stdout!.on('data', (chunk: Buffer) => {
			const text = partial + chunk.toString();
			const parts = text.split('\n');
			partial = parts.pop()!;
			for (const part of parts) {
				try {
					this.lines.push(JSON.parse(part) as LogLine);
				} catch {
					this.lines.push({level: 30, msg: part});
				}
			}
		});
		this.child.stderr!.on('data', (chunk: Buffer) => {
			this.stderr += chunk.toString();
		});
		this.exited = new Promise(resolve => {
			this.child.once('exit', (code, signal) => {
				resolve({code, signal});
			});
		});
	}

	static async start(flags: string[], command: string[]): Promise<SwitchboardProcess> {
		const process_ = new SwitchboardProcess(flags, command);
		const line = await process_.waitFor(entry => typeof entry['url'] === 'string');
		process_.url = line['url'] as string;
		return process_;
	}

	async waitFor(match: (line: LogLine) => boolean, timeoutMs = 20_000): Promise<LogLine> {
		const deadline = Date.now() + timeoutMs;
		while (Date.now() < deadline) {
			const found = this.lines.find(match);
			if (found) {
				return found;
			}

			if (this.child.exitCode !== null) {
				throw new Error(`switchboard exited (${this.child.exitCode}) before the expected log line. stderr: ${this.stderr}`);
			}

			await new Promise(resolve => setTimeout(resolve, 20));
		}

		throw new Error(`timed out waiting for a log line; got:\n${this.lines.map(line => JSON.stringify(line)).join('\n')}`);
	}

	count(match: (line: LogLine) => boolean): number {
		return this.lines.filter(match).length;
	}

	async health(): Promise<Record<string, unknown>> {
		const response = await fetch(`${this.url}/health`);
		return response.json() as Promise<Record<string, unknown>>;
	}

	async stop(): Promise<{code: number | null; signal: string | null}> {
		if (this.child.exitCode === null && this.child.signalCode === null) {
			this.child.kill('SIGTERM');
		}

		return this.exited;
	}
}

/** Running, that is: a zombie waiting for a slow PID 1 to reap it holds nothing and counts as gone. */
export function isAlive(pid: number): boolean {
	const state = processStat(String(pid))?.state;
	return state !== undefined && state !== 'Z';
}

export async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 20_000, what = 'condition'): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (Date.now() < deadline) {
		if (await condition()) {
			return;
		}

		await new Promise(resolve => setTimeout(resolve, 50));
	}

	throw new Error(`timed out waiting for ${what}`);
}
