import type {ServerResponse} from 'node:http';
import type {AdminStreamHead} from './protocol.js';

/** Past this many bytes waiting to be sent, the client of a streamed admin reply is cut off. */
export const streamBacklogLimit = 1024 * 1024;
/** How long a cut-off client has to take the bytes still queued for it before its connection is closed. */
const cutOffGraceMs = 10_000;

/**
 * A streamed admin reply (GET /events) on the data plane: chunks from the control plane go to the
 * client as they come, without waiting for it. A client that does not read would make them pile up
 * in memory, so once more than `backlogLimit` bytes wait, the stream ends with a last SSE comment
 * saying why (the client can reconnect and resume), and the connection is closed if the client
 * does not take what is queued within a grace period.
 */
export class AdminStreamRelay {
	#ended = false;

	constructor(private readonly res: ServerResponse, head: AdminStreamHead, private readonly backlogLimit = streamBacklogLimit) {
		res.writeHead(head.status, {
			'content-type': head.contentType,
			'cache-control': 'no-cache',
			// Proxies in front (nginx) would otherwise hold the events back.
			'x-accel-buffering': 'no',
		});
		res.flushHeaders();
	}

	/** False when the client is cut off (or gone): the stream is over and nothing more will be sent. */
	write(chunk: string): boolean {
		if (this.#ended || this.res.destroyed) {
			return false;
		}

		if (this.res.writableLength > this.backlogLimit) {
			this.end(`: switchboard: this client fell behind (more than ${this.backlogLimit} bytes waited to be sent), so the stream ends here; reconnect with Last-Event-ID to resume\n\n`);
			const timer = setTimeout(() => this.res.destroy(), cutOffGraceMs);
			timer.unref();
			this.res.once('close', () => {
				clearTimeout(timer);
			});
			return false;
		}

		this.res.write(chunk);
		return true;
	}

	end(chunk?: string): void {
		if (this.#ended) {
			return;
		}

		this.#ended = true;
		this.res.end(chunk);
	}
}
