/**
 * A program on a real terminal: a detached tmux session on a tmux server of its own (its own
 * socket, so no one else's session is ever touched), one pane running the program directly
 * (no shell: the pane's process is the program, in a process group of its own). The server ends
 * with its last session, so once the program is gone nothing runs; kill() removes the socket file
 * that tmux leaves. (test/helpers/tmux.ts runs its program under a shell whose pane outlives it, so
 * that a test can read its last words; the bench wants the pane's process to be the program, to
 * read its CPU time.)
 */
import {execFile} from 'node:child_process';
import {rmSync} from 'node:fs';
import {promisify} from 'node:util';

const run = promisify(execFile);

export interface TerminalSize {
	columns: number;
	rows: number;
}

export class TmuxSession {
	private constructor(readonly socket: string, readonly pid: number, private readonly socketPath: string) {}

	/** Starts `command` (argv) in a `size` terminal, with TERM as tmux sets it and the rest of this process's environment. */
	static async start(socket: string, size: TerminalSize, command: readonly string[]): Promise<TmuxSession> {
		await tmux(socket, 'new-session', '-d', '-s', 'bench', '-x', String(size.columns), '-y', String(size.rows), '--', ...command);
		try {
			const [pane = '', socketPath = ''] = (await tmux(socket, 'display-message', '-p', '-t', 'bench', '#{pane_pid} #{socket_path}')).trim().split(' ');
			const pid = Number(pane);
			if (!Number.isInteger(pid) || pid <= 0 || socketPath === '') {
				throw new Error(`tmux (socket ${socket}) gave no pane process`);
			}

			return new TmuxSession(socket, pid, socketPath);
		} catch (error) {
			// Nothing to stop it by later: the server and the program go now.
			await tmux(socket, 'kill-server').catch(() => undefined);
			throw error;
		}
	}

	/** What the pane shows now, as text; empty once the session has ended. */
	async screen(): Promise<string> {
		try {
			return await tmux(this.socket, 'capture-pane', '-p', '-t', 'bench');
		} catch {
			return '';
		}
	}

	/** Appends everything the program writes to the terminal from now on to `file`. */
	async record(file: string): Promise<void> {
		await tmux(this.socket, 'pipe-pane', '-o', '-t', 'bench', `exec cat >> '${file.replaceAll('\'', String.raw`'\''`)}'`);
	}

	/** Ends the server, if the session's end has not already: whatever still runs in the pane gets SIGHUP. */
	async kill(): Promise<void> {
		try {
			await tmux(this.socket, 'kill-server');
		} catch {
			// No server: it ended with its session.
		}

		rmSync(this.socketPath, {force: true});
	}
}

async function tmux(socket: string, ...args: string[]): Promise<string> {
	const {stdout} = await run('tmux', ['-L', socket, ...args], {timeout: 10_000});
	return stdout;
}
