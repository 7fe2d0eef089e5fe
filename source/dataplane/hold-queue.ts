/**
 * Requests waiting for a model to become ready: a bounded FIFO whose entries expire.
 * Cold path only; a ready model never touches it.
 */
export interface Waiter {
	/** Called once when the waiter leaves the queue by timing out. */
	expire(): void;
}

interface Entry<T extends Waiter> {
	waiter: T;
	timer: NodeJS.Timeout;
}

export class HoldQueue<T extends Waiter> {
	readonly #entries = new Map<T, Entry<T>>();

	constructor(public capacity: number) {}

	get size(): number {
		return this.#entries.size;
	}

	/** False when the queue is full; the caller answers 429. */
	push(waiter: T, maxWaitMs: number): boolean {
		if (this.#entries.size >= this.capacity) {
			return false;
		}

		const timer = setTimeout(() => {
			this.#entries.delete(waiter);
			waiter.expire();
		}, maxWaitMs);
		this.#entries.set(waiter, {waiter, timer});
		return true;
	}

	remove(waiter: T): void {
		const entry = this.#entries.get(waiter);
		if (entry) {
			clearTimeout(entry.timer);
			this.#entries.delete(waiter);
		}
	}

	/** Empties the queue, oldest first. */
	take(): T[] {
		const waiters: T[] = [];
		for (const entry of this.#entries.values()) {
			clearTimeout(entry.timer);
			waiters.push(entry.waiter);
		}

		this.#entries.clear();
		return waiters;
	}
}
