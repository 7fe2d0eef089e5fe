import assert from 'node:assert/strict';
import {once} from 'node:events';
import {createServer, get, type IncomingMessage, type ServerResponse} from 'node:http';
import type {AddressInfo} from 'node:net';
import {describe, it} from 'node:test';
import {AdminStreamRelay} from '../../source/dataplane/admin-stream.js';
import {KeyChecker} from '../../source/dataplane/auth.js';
import {endToEndHeaders} from '../../source/dataplane/headers.js';
import {HoldQueue} from '../../source/dataplane/hold-queue.js';
import {keyDigest} from '../../source/util/hash.js';

describe('api keys', () => {
	const table = (keys: string[]) => ({required: keys.length > 0, grants: keys.map(key => ({digest: keyDigest(key), user: undefined, models: undefined, admin: true}))});

	it('accepts any request when no key is configured', () => {
		assert.ok(new KeyChecker(table([])).check(undefined));
	});

	it('accepts exactly the configured bearer keys, scheme in any case', () => {
		const keys = new KeyChecker(table(['alpha', 'beta']));
		assert.ok(keys.check('Bearer alpha'));
		assert.ok(keys.check('bearer beta'));
		assert.equal(keys.check('Bearer alph'), undefined);
		assert.equal(keys.check('Bearer alphaa'), undefined);
		assert.equal(keys.check('Basic alpha'), undefined);
		assert.equal(keys.check('alpha'), undefined);
		assert.equal(keys.check(undefined), undefined);
	});
});

describe('hop-by-hop headers', () => {
	it('drops connection-specific headers and those Connection names', () => {
		const forwarded = endToEndHeaders({
			host: 'switchboard:8100',
			connection: 'keep-alive, x-trace',
			'keep-alive': 'timeout=5',
			'x-trace': '1',
			'transfer-encoding': 'chunked',
			'content-type': 'application/json',
			authorization: 'Bearer k',
		});
		assert.deepEqual(forwarded, {'content-type': 'application/json', authorization: 'Bearer k'});
	});
});

describe('hold queue', () => {
	it('is bounded, first in first out, and expires waiters', async () => {
		const expired: string[] = [];
		const waiter = (name: string) => ({name, expire: () => expired.push(name)});
		const queue = new HoldQueue<ReturnType<typeof waiter>>(2);
		const a = waiter('a');
		const b = waiter('b');
		assert.equal(queue.push(a, 60_000), true);
		assert.equal(queue.push(b, 1), true);
		assert.equal(queue.push(waiter('c'), 60_000), false, 'full');
		await new Promise(resolve => setTimeout(resolve, 20));
		assert.deepEqual(expired, ['b']);
		assert.equal(queue.size, 1);
		queue.remove(a);
		assert.equal(queue.size, 0);
		queue.push(a, 60_000);
		queue.push(b, 60_000);
		assert.deepEqual(queue.take().map(entry => entry.name), ['a', 'b']);
		assert.equal(queue.size, 0);
	});
});

describe('streamed admin replies', () => {
	it('cut off a client that does not read, once its backlog passes the limit, with a last comment saying why', async () => {
		const server = createServer();
		server.listen(0, '127.0.0.1');
		await once(server, 'listening');
		try {
			const responded = once(server, 'request') as Promise<[IncomingMessage, ServerResponse]>;
			const request = get(`http://127.0.0.1:${(server.address() as AddressInfo).port}/events`);
			const [, res] = await responded;
			const relay = new AdminStreamRelay(res, {status: 200, contentType: 'text/event-stream'}, 64 * 1024);
			const [response] = await once(request, 'response') as [IncomingMessage];
			assert.equal(response.headers['content-type'], 'text/event-stream');
			assert.equal(response.headers['cache-control'], 'no-cache');
			response.pause();

			const chunk = `data: ${'x'.repeat(16 * 1024)}\n\n`;
			let sent = 0;
			while (relay.write(chunk)) {
				sent += chunk.length;
				assert.ok(sent < 256 * 1024 * 1024, 'the relay never cut the client off');
				// Let the socket take what it can, as it would between the control plane's messages.
				await new Promise(resolve => setImmediate(resolve));
			}

			assert.ok(res.writableLength < 64 * 1024 + 2 * chunk.length, `at most the limit waits in memory (${res.writableLength} bytes)`);
			assert.equal(relay.write(chunk), false, 'nothing more is taken');

			response.setEncoding('utf8');
			let text = '';
			response.on('data', (data: string) => {
				text += data;
			});
			response.resume();
			await once(response, 'end');
			assert.match(text.slice(-300), /\n\n: switchboard: this client fell behind \(more than 65536 bytes waited to be sent\), so the stream ends here; reconnect with Last-Event-ID to resume\n\n$/);
		} finally {
			server.close();
		}
	});
});
