import {execFileSync, spawnSync} from 'node:child_process';
import {rmSync} from 'node:fs';
import {until} from './switchboard-process.js';

/** Why tmux cannot be used here, or undefined when it can (CI=true turns a reason into a failure, see tmuxTest). */
export function tmuxMissing(): string | undefined {
	const probe = spawnSync('tmux', ['-V'], {encoding: 'utf8'});
	return probe.status === 0 ? undefined : 'tmux is not installed (scripts/slurm-local/setup.sh installs it; npm test runs it as root)';
}

export interface TerminalSize {
	columns: number;
	rows: number;
}

export interface TmuxOptions extends TerminalSize {
	env?: Record<string, string>;
	/**
	 * Run the program under a shell, so that the pane outlives it and shows `[exited N]` (a test
	 * reads its last words); otherwise the pane's process is the program itself, in a process group
	 * of its own (the bench reads its CPU time), and the server ends with it.
	 */
	keepPane?: boolean;
}

/**
 * A program on a real terminal: a detached tmux session on a tmux server of its own (its own
 * socket, so no one else's session is ever touched). Keys go in with send-keys, the screen comes
 * out with capture-pane.
 */
export class TmuxSession {
	/** The pane's process. */
	readonly pid: number;
	readonly #socket: string;
	readonly #socketPath: string;

	constructor(command: readonly string[], {columns, rows, env = {}, keepPane = true}: TmuxOptions) {
		this.#socket = `switchboard-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
		// Through env(1): tmux's own -e does not reach the first command's PATH.
		const program = ['env', ...Object.entries(env).map(([name, value]) => `${name}=${value}`), ...command];
		const pane = keepPane ? ['sh', '-c', `${program.map(quote).join(' ')}; echo "[exited $?]"; sleep 600`] : program;
		this.#tmux('new-session', '-d', '-x', String(columns), '-y', String(rows), '--', ...pane);
		const [pid = '', socketPath = ''] = this.#tmux('display-message', '-p', '#{pane_pid} #{socket_path}').trim().split(' ');
		this.pid = Number(pid);
		this.#socketPath = socketPath;
	}

	/** The screen as text, one string per line, without colours; none once the session has ended. */
	screen(): string[] {
		try {
			return this.#tmux('capture-pane', '-p').split('\n').slice(0, -1);
		} catch {
			return [];
		}
	}

	/** Keys as tmux names them (`Enter`, `Escape`, `BSpace`, `Down`) or text. */
	keys(...keys: string[]): void {
		this.#tmux('send-keys', ...keys);
	}

	resize(columns: number, rows: number): void {
		this.#tmux('resize-window', '-x', String(columns), '-y', String(rows));
	}

	/** Appends everything the program writes to the terminal from now on to `file`. */
	record(file: string): void {
		this.#tmux('pipe-pane', '-o', `exec cat >> ${quote(file)}`);
	}

	/** Waits until a line of the screen matches; returns that line. */
	async line(pattern: RegExp, timeoutMs = 20_000): Promise<string> {
		let found: string | undefined;
		await until(() => {
			found = this.screen().find(line => pattern.test(line));
			return found !== undefined;
		}, timeoutMs).catch(() => {
			throw new Error(`No line matches ${pattern} on the screen:\n${this.screen().join('\n')}`);
		});
		return found!;
	}

	/** Ends the server (whatever still runs in the pane gets SIGHUP) and removes the socket file tmux leaves. */
	kill(): void {
		spawnSync('tmux', ['-L', this.#socket, 'kill-server']);
		if (this.#socketPath !== '') {
			rmSync(this.#socketPath, {force: true});
		}
	}

	#tmux(...args: string[]): string {
		return execFileSync('tmux', ['-L', this.#socket, ...args], {encoding: 'utf8', timeout: 10_000});
	}
}

function quote(word: string): string {
	return `'${word.replaceAll('\'', '\'\\\'\'')}'`;
}
