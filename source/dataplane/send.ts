import type {ServerResponse} from 'node:http';

/** A whole response in one go, with its length (switchboard's own answers: model lists, errors, admin replies). */
export function send(res: ServerResponse, status: number, contentType: string, body: string, headers: Record<string, number> = {}): void {
	res.writeHead(status, {...headers, 'content-type': contentType, 'content-length': Buffer.byteLength(body)});
	res.end(body);
}
