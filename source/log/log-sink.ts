import {write, writeSync} from 'node:fs';

/** Lines wait at most this long, so a quiet log still shows up promptly. */
const flushIntervalMs = 200;
/** Past this much pending output a batch goes out at once. */
const batchBytes = 4096;
/** When nobody reads our output (a paused pager, a stuck pane), lines beyond this are dropped. */
const maxPendingBytes = 16 * 1024 * 1024;

/**
 * Where log lines go: a file descriptor, written in batches (one system call per request line
 * would sit on the proxy's hot path). It never blocks and never retries: a closed pipe or a hung-up
 * terminal (EPIPE, EIO) ends logging, not switchboard; a full pipe (EAGAIN) drops that batch.
 */
export class LogSink {
	readonly #fd: number;
	readonly #format: (line: string) => string;
	#pending: string[] = [];
	#pendingBytes = 0;
	#writing = false;
	#broken = false;

	constructor(fd: number, format: (line: string) => string = line => line) {
		this.#fd = fd;
		this.#format = format;
		setInterval(() => {
			this.#flush();
		}, flushIntervalMs).unref();
		process.once('exit', () => {
			this.flushSync();
		});
	}

	write(line: string): void {
		if (this.#broken || this.#pendingBytes > maxPendingBytes) {
			return;
		}

		const text = this.#format(line);
		this.#pending.push(text);
		this.#pendingBytes += text.length;
		if (this.#pendingBytes >= batchBytes) {
			this.#flush();
		}
	}

	/** pino's logger.flush(callback) lands here: everything written so far is out when it is called. */
	flush(callback?: (error?: Error) => void): void {
		if (!this.#writing) {
			this.#flush(callback);
			return;
		}

		// A batch is on its way; ours goes after it.
		setImmediate(() => {
			this.flush(callback);
		});
	}

	/** The last lines, once, at exit: any error gives up rather than holding the process. */
	flushSync(): void {
		if (this.#broken || this.#pending.length === 0) {
			return;
		}

		try {
			writeSync(this.#fd, this.#take());
		} catch {
			this.#broken = true;
		}
	}

	#flush(callback?: (error?: Error) => void): void {
		if (this.#writing || this.#broken || this.#pending.length === 0) {
			callback?.();
			return;
		}

		this.#writing = true;
		this.#send(Buffer.from(this.#take()), callback);
	}

	#send(data: Buffer, callback?: (error?: Error) => void): void {
		write(this.#fd, data, 0, data.length, null, (error, written) => {
			if (!error && written < data.length) {
				this.#send(data.subarray(written), callback);
				return;
			}

			this.#writing = false;
			if (error && error.code !== 'EAGAIN') {
				this.#broken = true;
			}

			callback?.();
		});
	}

	#take(): string {
		const text = this.#pending.join('');
		this.#pending = [];
		this.#pendingBytes = 0;
		return text;
	}
}
