import {closeSync, copyFileSync, fstatSync, openSync, readSync, truncateSync} from 'node:fs';
import {LineSplitter} from './line-splitter.js';
import {rotatedPath} from './log-files.js';

const chunkBytes = 64 * 1024;

/**
 * Reads the lines a backend appends to its log file. The backend writes to the file itself
 * (no pipe through switchboard: a chatty server costs us nothing per line, and it never gets
 * SIGPIPE if switchboard goes away); we catch up in batches.
 *
 * The file cannot be renamed away from under the backend, so past `maxBytes` it is rotated as
 * logrotate's copytruncate does: copied to `<file>.1`, then emptied; the backend's descriptor has
 * O_APPEND, so its next write lands at the new end. What it writes between the copy and the
 * emptying is lost from disk (not from the lines read here). A file emptied by someone else is
 * followed from its new start too.
 */
export class LogFollower {
	readonly #fd: number;
	readonly #lines: LineSplitter;
	readonly #buffer = Buffer.allocUnsafe(chunkBytes);
	readonly #timer: NodeJS.Timeout;
	#offset: number;
	#maxBytes: number;

	constructor(
		private readonly file: string,
		offset: number,
		private readonly onLine: (line: string) => void,
		intervalMs: number,
		maxBytes = Number.POSITIVE_INFINITY,
	) {
		this.#fd = openSync(file, 'r');
		this.#offset = offset;
		this.#maxBytes = maxBytes;
		this.#lines = new LineSplitter(onLine);
		this.#timer = setInterval(() => {
			this.poll();
		}, intervalMs);
		this.#timer.unref();
	}

	/** Reads whatever was appended since the last call, and rotates the file if it grew too large. */
	poll(): void {
		if (fstatSync(this.#fd).size < this.#offset) {
			this.#offset = 0;
		}

		this.#readToEnd();
		if (this.#offset >= this.#maxBytes) {
			this.#rotate();
		}
	}

	/** A last read, including an unterminated last line, then no more. */
	close(): void {
		clearInterval(this.#timer);
		this.#readToEnd();
		this.#lines.flush();
		closeSync(this.#fd);
	}

	#readToEnd(): void {
		for (;;) {
			const read = readSync(this.#fd, this.#buffer, 0, chunkBytes, this.#offset);
			if (read === 0) {
				return;
			}

			this.#offset += read;
			this.#lines.push(this.#buffer.subarray(0, read));
		}
	}

	#rotate(): void {
		const aside = rotatedPath(this.file);
		try {
			copyFileSync(this.file, aside);
			// What arrived during the copy is read now, so the lines read here miss nothing the file had.
			this.#readToEnd();
			truncateSync(this.file, 0);
			this.#offset = 0;
			// Told among the backend's lines, not written into its file: a line it is in the middle of goes on there.
			this.onLine(`switchboard: the log file passed ${this.#maxBytes} bytes; what came before is in ${aside}`);
		} catch (error) {
			// A full disk, say: the file grows on rather than losing what could not be copied.
			this.#maxBytes = Number.POSITIVE_INFINITY;
			this.onLine(`switchboard: could not rotate this log into ${aside} (${(error as Error).message}); it grows on`);
		}
	}
}
