import type {AdminReply} from '../dataplane/protocol.js';
import {errorBody, type ProxyErrorKind} from '../dataplane/errors.js';

export function json(status: number, value: unknown): AdminReply {
	return {status, contentType: 'application/json', body: JSON.stringify(value)};
}

export function text(status: number, body: string): AdminReply {
	return {status, contentType: 'text/plain; charset=utf-8', body};
}

/** OpenAI's error envelope; `param` names the body field at fault, if one is. */
export function error(kind: ProxyErrorKind, message: string, param: string | null = null): AdminReply {
	return {status: kind.status, contentType: 'application/json', body: errorBody(kind, message, param)};
}
