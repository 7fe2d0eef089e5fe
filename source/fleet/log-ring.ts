/** The last lines a backend printed, kept in memory for error messages, /logs/tail and the UI. */
export class LogRing {
	readonly #lines: string[] = [];
	#start = 0;

	constructor(private readonly capacity = 2000) {}

	push(line: string): void {
		if (this.#lines.length < this.capacity) {
			this.#lines.push(line);
		} else {
			this.#lines[this.#start] = line;
			this.#start = (this.#start + 1) % this.capacity;
		}
	}

	tail(count: number): string[] {
		const ordered = [...this.#lines.slice(this.#start), ...this.#lines.slice(0, this.#start)];
		return count >= ordered.length ? ordered : ordered.slice(ordered.length - count);
	}
}
