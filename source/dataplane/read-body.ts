import type {IncomingMessage} from 'node:http';
import {Readable} from 'node:stream';

export class BodyTooLargeError extends Error {
	override name = 'BodyTooLargeError';
}

/** Collects a request body, refusing more than `limit` bytes. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
	const declared = Number(req.headers['content-length']);
	if (declared > limit) {
		throw new BodyTooLargeError(`Request body of ${declared} bytes exceeds the limit of ${limit} bytes.`);
	}

	return new Promise((resolve, reject) => {
		const chunks: Buffer[] = [];
		let size = 0;
		req.on('data', (chunk: Buffer) => {
			size += chunk.length;
			if (size > limit) {
				req.removeAllListeners('data');
				req.resume();
				reject(new BodyTooLargeError(`Request body exceeds the limit of ${limit} bytes.`));
				return;
			}

			chunks.push(chunk);
		});
		req.once('end', () => {
			resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
		});
		req.once('error', reject);
	});
}

/** Passes a streamed body on, failing it once it grows past `limit` bytes. */
export function limitedBody(req: IncomingMessage, limit: number): Readable {
	return Readable.from(countedChunks(req, limit), {objectMode: false});
}

async function * countedChunks(req: IncomingMessage, limit: number): AsyncGenerator<Buffer> {
	let size = 0;
	for await (const chunk of req as AsyncIterable<Buffer>) {
		size += chunk.length;
		if (size > limit) {
			throw new BodyTooLargeError(`Request body exceeds the limit of ${limit} bytes.`);
		}

		yield chunk;
	}
}
