import {runSlurm} from './slurm-command.js';
import {parseQueue, queueFormat, type QueueEntry} from './squeue.js';

/** Someone following one job: told what squeue says at every poll (undefined: not listed). */
export interface JobFollower {
	readonly name: string;
	seen(entry: QueueEntry | undefined): void;
	/** Nothing is expected to change soon (the job runs and its backend is ready): polls may slow down. */
	settled(): boolean;
}

export interface JobWatcherOptions {
	/** The interval while any job starts or stops; five times longer while all are settled. */
	pollMs: number;
	/** squeue failed (its message); the jobs' states stay as last seen. */
	onProblem(message: string): void;
	/** Defaults to squeue. */
	query?(names: readonly string[]): Promise<QueueEntry[]>;
}

const settledFactor = 5;

/**
 * Asks squeue about every job switchboard follows in one call per poll, however many there are
 * (a squeue per job and per second is what makes cluster admins write angry emails), by name,
 * with finished jobs included (`-t all`) so that an end is seen with its state, not as a disappearance.
 */
export class JobWatcher {
	readonly #followers = new Set<JobFollower>();
	readonly #query: (names: readonly string[]) => Promise<QueueEntry[]>;
	#timer: NodeJS.Timeout | undefined;
	#polling: Promise<void> | undefined;
	#again = false;
	#failing = false;

	constructor(private readonly options: JobWatcherOptions) {
		this.#query = options.query ?? (async names => parseQueue(await runSlurm('squeue', ['-h', '-t', 'all', `--name=${names.join(',')}`, '-o', queueFormat])));
	}

	/** Follows a job until the returned function is called. */
	follow(follower: JobFollower): () => void {
		this.#followers.add(follower);
		// A job just submitted is watched closely, even if the others have slowed the polls down.
		clearTimeout(this.#timer);
		this.#timer = undefined;
		this.#schedule();
		return () => {
			this.#followers.delete(follower);
		};
	}

	/** Polls now (after a poll that is under way, if any), for those who cannot wait for the next round. */
	async pollNow(): Promise<void> {
		if (!this.#polling) {
			await this.#poll();
			return;
		}

		// The poll under way may have asked before the change its caller waits to see.
		this.#again = true;
		for (let polling = this.#polling; polling; polling = this.#polling) {
			await polling;
		}
	}

	async #poll(): Promise<void> {
		clearTimeout(this.#timer);
		this.#timer = undefined;
		const followers = [...this.#followers];
		if (followers.length === 0) {
			return;
		}

		this.#polling = (async () => {
			let entries: QueueEntry[];
			try {
				entries = await this.#query([...new Set(followers.map(follower => follower.name))]);
			} catch (error) {
				if (!this.#failing) {
					this.options.onProblem(`squeue failed, so switchboard cannot see its SLURM jobs for now: ${(error as Error).message}`);
				}

				this.#failing = true;
				return;
			}

			if (this.#failing) {
				this.options.onProblem('squeue answers again');
				this.#failing = false;
			}

			for (const follower of followers) {
				if (!this.#followers.has(follower)) {
					continue;
				}

				try {
					follower.seen(newest(entries.filter(entry => entry.name === follower.name)));
				} catch (error) {
					// One job's trouble must not stop the others being watched.
					this.options.onProblem(`following SLURM job ${follower.name} failed: ${(error as Error).message}`);
				}
			}
		})();
		try {
			await this.#polling;
		} finally {
			this.#polling = undefined;
		}

		if (this.#again) {
			this.#again = false;
			await this.#poll();
			return;
		}

		this.#schedule();
	}

	#schedule(): void {
		if (this.#timer || this.#polling || this.#followers.size === 0) {
			return;
		}

		const settled = [...this.#followers].every(follower => follower.settled());
		this.#timer = setTimeout(() => {
			void this.#poll();
		}, settled ? this.options.pollMs * settledFactor : this.options.pollMs);
		this.#timer.unref();
	}
}

/** A name reused by a later job (an srun retried) lists both: the later one counts. */
function newest(entries: QueueEntry[]): QueueEntry | undefined {
	return entries.sort((a, b) => Number(b.id) - Number(a.id))[0];
}
