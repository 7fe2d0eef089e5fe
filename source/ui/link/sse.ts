/** One Server-Sent Event: its `id:` (when it has one), its `event:` type and its `data:` lines joined. */
export interface SseMessage {
	id: string | undefined;
	event: string;
	data: string;
}

/**
 * Reads a Server-Sent Events stream as its bytes arrive, split anywhere (a line, or a character's
 * UTF-8 bytes, may straddle two chunks). Follows the EventSource rules switchboard's GET /events
 * relies on: comments are skipped, a blank line ends a message, one without data is none.
 */
export class SseParser {
	readonly #decoder = new TextDecoder();
	readonly #onMessage: (message: SseMessage) => void;
	#partial = '';
	#id: string | undefined;
	#event = '';
	#data: string[] = [];

	constructor(onMessage: (message: SseMessage) => void) {
		this.#onMessage = onMessage;
	}

	push(chunk: Uint8Array): void {
		const lines = (this.#partial + this.#decoder.decode(chunk, {stream: true})).split('\n');
		this.#partial = lines.pop()!;
		for (const line of lines) {
			this.#read(line.endsWith('\r') ? line.slice(0, -1) : line);
		}
	}

	#read(line: string): void {
		if (line === '') {
			this.#dispatch();
			return;
		}

		if (line.startsWith(':')) {
			return;
		}

		const colon = line.indexOf(':');
		const field = colon === -1 ? line : line.slice(0, colon);
		const value = colon === -1 ? '' : line.slice(colon + (line[colon + 1] === ' ' ? 2 : 1));
		if (field === 'id') {
			this.#id = value;
		} else if (field === 'event') {
			this.#event = value;
		} else if (field === 'data') {
			this.#data.push(value);
		}
	}

	#dispatch(): void {
		const message = {id: this.#id, event: this.#event || 'message', data: this.#data.join('\n')};
		const hasData = this.#data.length > 0;
		this.#id = undefined;
		this.#event = '';
		this.#data = [];
		if (hasData) {
			this.#onMessage(message);
		}
	}
}
