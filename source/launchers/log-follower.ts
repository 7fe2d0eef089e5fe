import {closeSync, openSync, readSync} from 'node:fs';
import {LineSplitter} from './line-splitter.js';

const chunkBytes = 64 * 1024;

/**
 * Reads the lines a backend appends to its log file. The backend writes to the file itself
 * (no pipe through switchboard: a chatty server costs us nothing per line, and it never gets
 * SIGPIPE if switchboard goes away); we catch up in batches.
 */
export class LogFollower {
	readonly #fd: number;
	readonly #lines: LineSplitter;
	readonly #buffer = Buffer.allocUnsafe(chunkBytes);
	readonly #timer: NodeJS.Timeout;
	#offset: number;

	constructor(path: string, offset: number, onLine: (line: string) => void, intervalMs: number) {
		this.#fd = openSync(path, 'r');
		this.#offset = offset;
		this.#lines = new LineSplitter(onLine);
		this.#timer = setInterval(() => {
			this.poll();
		}, intervalMs);
		this.#timer.unref();
	}

	/** Reads whatever was appended since the last call. */
	poll(): void {
		for (;;) {
			const read = readSync(this.#fd, this.#buffer, 0, chunkBytes, this.#offset);
			if (read === 0) {
				return;
			}

			this.#offset += read;
			this.#lines.push(this.#buffer.subarray(0, read));
		}
	}

	/** A last read, including an unterminated last line, then no more. */
	close(): void {
		clearInterval(this.#timer);
		this.poll();
		this.#lines.flush();
		closeSync(this.#fd);
	}
}
