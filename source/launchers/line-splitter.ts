import {StringDecoder} from 'node:string_decoder';

/**
 * Turns a byte stream into lines, holding a partial last line (and a character split across
 * reads) until the rest arrives. A bare `\r` ends a line too (progress bars redraw with it),
 * unless it ends the chunk: its `\n` may be in the next.
 */
export class LineSplitter {
	readonly #decoder = new StringDecoder('utf8');
	#partial = '';

	constructor(private readonly emit: (line: string) => void) {}

	push(chunk: Buffer): void {
		const lines = (this.#partial + this.#decoder.write(chunk)).split(/\r?\n|\r(?!$)/);
		this.#partial = lines.pop()!;
		for (const line of lines) {
			this.emit(line);
		}
	}

	flush(): void {
		const rest = this.#partial + this.#decoder.end();
		this.#partial = '';
		if (rest) {
			this.emit(rest);
		}
	}
}
