import {spawn, type ChildProcess} from 'node:child_process';
import {fileURLToPath} from 'node:url';

/**
 * A tiny watchdog process that outlives switchboard. It learns the process groups of the
 * backends we start; if switchboard dies without stopping them (SIGKILL, OOM, a crash), its
 * stdin closes and it ends those groups, so no GPU stays held by an orphan. It learns the SLURM
 * jobs too: those it cancels only after their model's idle timeout, and only if no switchboard
 * has taken them over meanwhile (a restarted one, see recoverJobs), as the job ledger tells.
 */
export class Reaper {
	readonly #child: ChildProcess;
	#dismissed = false;

	/**
	 * `onLost` hears if the watchdog dies before switchboard is done with it; `jobLedger` is the
	 * file of SLURM jobs (see JobLedger), when switchboard runs any.
	 */
	constructor(graceMs: number, onLost: (reason: string) => void, jobLedger = '') {
		this.#child = spawn(process.execPath, [fileURLToPath(new URL('reaper-process.js', import.meta.url)), String(graceMs), jobLedger], {
			detached: true,
			stdio: ['pipe', 'ignore', 'ignore'],
		});
		this.#child.once('exit', (code, signal) => {
			if (!this.#dismissed) {
				onLost(signal ? `killed by ${signal}` : `exited with code ${code}`);
			}
		});
		this.#child.unref();
		// The pipe must not keep our event loop alive either.
		(this.#child.stdin as unknown as {unref?: () => void} | null)?.unref?.();
		this.#child.stdin?.on('error', () => undefined);
	}

	watch(pid: number): void {
		this.#child.stdin?.write(`+${pid}\n`);
	}

	forget(pid: number): void {
		this.#child.stdin?.write(`-${pid}\n`);
	}

	/** A SLURM job to cancel if switchboard dies and nobody takes it over within `orphanAfterMs` (0: never cancel it). */
	watchJob(id: string, orphanAfterMs: number): void {
		this.#child.stdin?.write(`+job ${id} ${orphanAfterMs}\n`);
	}

	forgetJob(id: string): void {
		this.#child.stdin?.write(`-job ${id}\n`);
	}

	/** Normal shutdown: everything was stopped, the watchdog can go. */
	dismiss(): void {
		this.#dismissed = true;
		this.#child.stdin?.end();
	}
}
