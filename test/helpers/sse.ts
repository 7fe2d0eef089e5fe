/** One Server-Sent Event, as an EventSource reads it. */
export interface ServerSentEvent {
	id: string | undefined;
	event: string;
	data: Record<string, unknown>;
}

/** Reads a Server-Sent Events stream fed in chunks split anywhere; comment lines are kept apart. */
export class SseReader {
	readonly events: ServerSentEvent[] = [];
	readonly comments: string[] = [];
	#partial = '';

	push(chunk: string): void {
		const blocks = (this.#partial + chunk).split('\n\n');
		this.#partial = blocks.pop()!;
		for (const block of blocks) {
			const lines = block.split('\n');
			this.comments.push(...lines.filter(line => line.startsWith(':')));
			const fields = new Map(lines.filter(line => !line.startsWith(':')).map(line => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2)]));
			if (fields.has('data')) {
				this.events.push({id: fields.get('id'), event: fields.get('event') ?? 'message', data: JSON.parse(fields.get('data')!) as Record<string, unknown>});
			}
		}
	}

	/** What arrived after the last whole message. */
	get partial(): string {
		return this.#partial;
	}
}
