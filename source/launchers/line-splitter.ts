/** Turns a byte stream into lines, holding a partial last line until its end arrives. */
export class LineSplitter {
	#partial = '';

	constructor(private readonly emit: (line: string) => void) {}

	push(chunk: Buffer): void {
		const text = this.#partial + chunk.toString();
		const lines = text.split('\n');
		this.#partial = lines.pop()!;
		for (const line of lines) {
			this.emit(line.endsWith('\r') ? line.slice(0, -1) : line);
		}
	}

	flush(): void {
		if (this.#partial) {
			this.emit(this.#partial);
			this.#partial = '';
		}
	}
}
