import {execFileSync, spawnSync} from 'node:child_process';
import {until} from './switchboard-process.js';

/** Why tmux cannot be used here, or undefined when it can (CI=true turns a reason into a failure, see tmuxTest). */
export function tmuxMissing(): string | undefined {
	const probe = spawnSync('tmux', ['-V'], {encoding: 'utf8'});
	return probe.status === 0 ? undefined : 'tmux is not installed (scripts/slurm-local/setup.sh installs it; npm test runs it as root)';
}

/**
 * A program running in a detached tmux session on a server of its own (its own socket), so a test
 * never touches the user's sessions: keys go in with send-keys, the screen comes out with capture-pane.
 */
export class TmuxSession {
	readonly #socket: string;

	constructor(command: string[], {width, height, env = {}}: {width: number; height: number; env?: Record<string, string>}) {
		this.#socket = `switchboard-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
		// Through env(1): tmux's own -e does not reach the first command's PATH.
		const environment = Object.entries(env).map(([name, value]) => `${name}=${value}`);
		// The pane stays after the program ends, so its last words can be read.
		this.#tmux('new-session', '-d', '-x', String(width), '-y', String(height), '--', 'sh', '-c', `${['env', ...environment, ...command].map(quote).join(' ')}; echo "[exited $?]"; sleep 600`);
	}

	/** The screen as text, one string per line, without colours. */
	screen(): string[] {
		return this.#tmux('capture-pane', '-p').split('\n').slice(0, -1);
	}

	/** Keys as tmux names them (`Enter`, `Escape`, `BSpace`, `Down`) or text. */
	keys(...keys: string[]): void {
		this.#tmux('send-keys', ...keys);
	}

	resize(width: number, height: number): void {
		this.#tmux('resize-window', '-x', String(width), '-y', String(height));
	}

	/** Waits until a line of the screen matches; returns that line. */
	async line(pattern: RegExp, timeoutMs = 20_000): Promise<string> {
		let found: string | undefined;
		await until(() => {
			found = this.screen().find(line => pattern.test(line));
			return found !== undefined;
		}, timeoutMs, `a line matching ${pattern} on the screen:\n${this.screen().join('\n')}`).catch(() => {
			throw new Error(`No line matches ${pattern} on the screen:\n${this.screen().join('\n')}`);
		});
		return found!;
	}

	kill(): void {
		spawnSync('tmux', ['-L', this.#socket, 'kill-server']);
	}

	#tmux(...args: string[]): string {
		return execFileSync('tmux', ['-L', this.#socket, ...args], {encoding: 'utf8'});
	}
}

function quote(word: string): string {
	return `'${word.replaceAll('\'', '\'\\\'\'')}'`;
}
