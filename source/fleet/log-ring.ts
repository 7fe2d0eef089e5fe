/** The last lines a backend printed, kept in memory for error messages, /logs/tail and the UI. */
export class LogRing {
	readonly #lines: string[] = [];
	#start = 0;
	/** Lines ever pushed; a position in the log that survives the ring wrapping around. */
	#pushed = 0;
	readonly #listeners = new Set<(line: string) => void>();

	constructor(private readonly capacity = 2000) {}

	/** Where the log is now; `tail(n, since)` then leaves out everything before it. */
	get position(): number {
		return this.#pushed;
	}

	/** Calls `listener` with each line pushed from now on; returns what stops it. */
	onLine(listener: (line: string) => void): () => void {
		this.#listeners.add(listener);
		return () => this.#listeners.delete(listener);
	}

	push(line: string): void {
		this.#pushed++;
		if (this.#lines.length < this.capacity) {
			this.#lines.push(line);
		} else {
			this.#lines[this.#start] = line;
			this.#start = (this.#start + 1) % this.capacity;
		}

		for (const listener of this.#listeners) {
			listener(line);
		}
	}

	tail(count: number, since = 0): string[] {
		const ordered = [...this.#lines.slice(this.#start), ...this.#lines.slice(0, this.#start)];
		const fresh = Math.min(ordered.length, this.#pushed - since);
		return ordered.slice(ordered.length - Math.min(count, fresh));
	}
}
