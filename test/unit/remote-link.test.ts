import assert from 'node:assert/strict';
import {createServer, type IncomingHttpHeaders, type ServerResponse} from 'node:http';
import type {AddressInfo, Socket} from 'node:net';
import {after, afterEach, before, describe, it} from 'node:test';
import type {FleetEvent} from '../../source/fleet/events.js';
import type {ConsoleLink} from '../../source/ui/link/link.js';
import {LinkError, remoteLink, type RemoteLinkOptions} from '../../source/ui/link/remote.js';
import {SseParser, type SseMessage} from '../../source/ui/link/sse.js';
import {FakeClock} from '../helpers/fake-clock.js';
import {until} from '../helpers/switchboard-process.js';
import {unusedPort} from '../helpers/ports.js';

describe('SseParser', () => {
	const stream = ': keep-alive\n\nid: 1\nevent: log\ndata: {"line":"café 🚀"}\n\n'
		+ 'event: events.lost\ndata: {"a":1}\r\n\r\n'
		+ 'id: 2\ndata: first\ndata:second\n\n'
		+ 'event: nothing\n\n'
		+ 'id: 3\nevent: end\ndata\n\n';
	const expected: SseMessage[] = [
		{id: '1', event: 'log', data: '{"line":"café 🚀"}'},
		{id: undefined, event: 'events.lost', data: '{"a":1}'},
		{id: '2', event: 'message', data: 'first\nsecond'},
		{id: '3', event: 'end', data: ''},
	];
	const bytes = new TextEncoder().encode(stream);
	const read = (chunks: Uint8Array[]) => {
		const messages: SseMessage[] = [];
		const parser = new SseParser(message => messages.push(message));
		for (const chunk of chunks) {
			parser.push(chunk);
		}

		return messages;
	};

	it('reads the same messages however the bytes are split, inside a line or a character', () => {
		for (let split = 0; split <= bytes.length; split++) {
			assert.deepEqual(read([bytes.subarray(0, split), bytes.subarray(split)]), expected, `split at byte ${split}`);
		}

		assert.deepEqual(read([...bytes].map(byte => Uint8Array.of(byte))), expected, 'one byte at a time');
	});

	it('holds a message back until its blank line arrives', () => {
		assert.deepEqual(read([new TextEncoder().encode('id: 9\nevent: log\ndata: {}\n')]), []);
	});
});

/** A stand-in for switchboard's GET /events on 127.0.0.1, answering as the test says. */
class EventServer {
	readonly requests: IncomingHttpHeaders[] = [];
	readonly open = new Set<Socket>();
	/** The stream of the last request answered 200, while it is open. */
	response: ServerResponse | undefined;
	answer: 'busy' | 'stream' = 'busy';
	readonly #server = createServer((request, response) => {
		this.requests.push(request.headers);
		if (this.answer === 'busy') {
			response.writeHead(503, {'content-type': 'application/json'}).end(JSON.stringify({error: {message: 'not now'}}));
			return;
		}

		response.writeHead(200, {'content-type': 'text/event-stream'});
		response.write(`id: 3\nevent: snapshot\ndata: {"type":"snapshot","models":[]}\n\n`);
		response.write(`id: 4\nevent: model.added\ndata: {"type":"model.added","model":"m","at":1}\n\n`);
		this.response = response;
	});

	get url(): string {
		return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
	}

	async listen(): Promise<void> {
		// Longer than the tests: a connection that closes was closed by the link.
		this.#server.keepAliveTimeout = 60_000;
		this.#server.on('connection', (socket: Socket) => {
			this.open.add(socket);
			socket.once('close', () => this.open.delete(socket));
		});
		await new Promise<void>(resolve => this.#server.listen(0, '127.0.0.1', resolve));
	}

	async close(): Promise<void> {
		this.#server.closeAllConnections();
		await new Promise(resolve => this.#server.close(resolve));
	}
}

describe('remoteLink', () => {
	const server = new EventServer();
	const links: ConsoleLink[] = [];
	const openLink = (options: RemoteLinkOptions) => {
		links.push(remoteLink(options));
		return links.at(-1)!;
	};

	before(async () => server.listen());
	afterEach(() => {
		for (const opened of links.splice(0)) {
			opened.close();
		}

		server.answer = 'busy';
	});
	after(async () => server.close());

	it('follows GET /events: reconnects after 0.5 s doubling to 5 s, from the last id, saying when it is down and back', async () => {
		const clock = new FakeClock();
		const events: FleetEvent[] = [];
		const troubles: Array<string | undefined> = [];
		const followed = openLink({url: server.url, adminKey: 'sk-admin', clock});
		followed.subscribe(event => events.push(event), message => troubles.push(message));
		await until(() => troubles.length === 1, 5000, 'the first refusal');
		assert.deepEqual(troubles, [`${server.url}/events answered 503: not now`]);
		assert.equal(server.requests[0]!.authorization, 'Bearer sk-admin');

		for (const delay of [500, 1000, 2000, 4000, 5000, 5000]) {
			const attempts = server.requests.length;
			await clock.advance(delay - 1);
			await new Promise(resolve => setTimeout(resolve, 50));
			assert.equal(server.requests.length, attempts, `no new attempt before ${delay} ms`);
			await clock.advance(1);
			await until(() => troubles.length === attempts + 1, 5000, `the attempt after ${delay} ms`);
		}

		server.answer = 'stream';
		await clock.advance(5000);
		await until(() => events.length === 1, 5000, 'the event');
		assert.deepEqual(events, [{type: 'model.added', model: 'm', at: 1}], 'the snapshot is not passed on');
		assert.equal(troubles.at(-1), undefined, 'back');
		assert.equal(troubles.filter(message => message === undefined).length, 1);
		assert.equal(server.requests.at(-1)!['last-event-id'], undefined, 'nothing seen yet');

		server.response!.end();
		await until(() => troubles.at(-1) !== undefined, 5000, 'the end of the stream');
		assert.equal(troubles.at(-1), `${server.url} closed the event stream; reconnecting`);
		await clock.advance(500);
		await until(() => events.length === 2, 5000, 'the reconnection, at once back to 0.5 s');
		assert.equal(server.requests.at(-1)!['last-event-id'], '4');
		assert.equal(troubles.at(-1), undefined);

		server.response!.end();
		await until(() => troubles.at(-1) !== undefined, 5000, 'the end of the stream again');
		assert.equal(clock.pending, 1, 'waiting to reconnect');
		followed.close();
		assert.equal(clock.pending, 0, 'no timer left');
		await until(() => server.open.size === 0, 5000, 'the link to let go of its connections');
	});

	it('sends commands as JSON with the key and answers with the status and body', async () => {
		const commands = openLink({url: `${server.url}/`, adminKey: 'sk-admin'});
		const reply = await commands.request('POST', '/models/m/start?wait=false', {pin: 'on'});
		assert.deepEqual(reply, {status: 503, body: '{"error":{"message":"not now"}}'});
		assert.equal(server.requests.at(-1)!['content-type'], 'application/json');
		assert.equal(server.requests.at(-1)!.authorization, 'Bearer sk-admin');
		commands.close();
		await until(() => server.open.size === 0, 5000, 'the link to let go of its connection');
	});

	it('rejects a call nothing answers with the address and why', async () => {
		const url = `http://127.0.0.1:${await unusedPort()}`;
		await assert.rejects(openLink({url}).request('GET', '/status'), (error: Error) => error instanceof LinkError && error.message === `cannot reach ${url}: connection refused`);
	});
});
