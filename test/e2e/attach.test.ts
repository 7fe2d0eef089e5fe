import assert from 'node:assert/strict';
import {execFile} from 'node:child_process';
import {mkdtempSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterEach, describe, it} from 'node:test';
import {openAttach} from '../../source/attach.js';
import {ConfigError} from '../../source/config/errors.js';
import type {FleetEvent} from '../../source/fleet/events.js';
import type {ConsoleLink} from '../../source/ui/link/link.js';
import {remoteLink} from '../../source/ui/link/remote.js';
import {cliPath, SwitchboardProcess, until} from '../helpers/switchboard-process.js';
import {unusedPort} from '../helpers/ports.js';

const running: SwitchboardProcess[] = [];
const links: ConsoleLink[] = [];

afterEach(async () => {
	for (const link of links.splice(0)) {
		link.close();
	}

	await Promise.all(running.splice(0).map(async switchboard => switchboard.stop()));
});

/** A config with one `switchboard sim` model, `chat`. */
function configFile(): string {
	const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'switchboard-attach-')), 'switchboard.toml');
	writeFileSync(file, `[[models]]
name = "chat"
command = ${JSON.stringify([process.execPath, cliPath, 'sim', '--model', 'chat', '--token-rate', '0', '--startup-delay', '0.3'])}
`);
	return file;
}

async function start(flags: string[]): Promise<SwitchboardProcess> {
	const switchboard = await SwitchboardProcess.start(flags, []);
	running.push(switchboard);
	return switchboard;
}

/** A link's events and troubles, collected. */
function follow(link: ConsoleLink): {events: FleetEvent[]; troubles: Array<string | undefined>} {
	links.push(link);
	const followed = {events: [] as FleetEvent[], troubles: [] as Array<string | undefined>};
	link.subscribe(event => followed.events.push(event), message => followed.troubles.push(message));
	return followed;
}

async function attachRefusal(argv: string[]): Promise<string> {
	const error = await openAttach(argv, {}).then(() => undefined, (error: unknown) => error);
	assert.ok(error instanceof ConfigError, String(error));
	return error.message;
}

/** `switchboard attach …`, run to its end. */
async function attachCommand(...argv: string[]): Promise<{code: number | null; stdout: string; stderr: string}> {
	const env = {...process.env};
	delete env['SWITCHBOARD_ADMIN_KEY'];
	return new Promise(resolve => {
		const child = execFile(process.execPath, [cliPath, 'attach', ...argv], {env, timeout: 20_000}, (_error, stdout, stderr) => {
			resolve({code: child.exitCode, stdout, stderr});
		});
	});
}

describe('switchboard attach, against the real binary', () => {
	it('reads /status and follows the events of a switchboard with keys; refuses a wrong key in words', async () => {
		const switchboard = await start(['--config', configFile(), '--admin-key', 'sk-admin', '--api-key', 'sk-team']);
		const {link, status} = await openAttach([switchboard.url, '--admin-key', 'sk-admin'], {});
		const {events, troubles} = follow(link);
		assert.equal(link.remote, true);
		assert.equal(status.switchboard.url, switchboard.url);
		assert.equal(status.switchboard.auth, true);
		assert.deepEqual(status.models.map(model => [model.name, model.state]), [['chat', 'stopped']]);

		const accepted = await link.request('POST', '/models/chat/start?wait=false');
		assert.equal(accepted.status, 202, accepted.body);
		await until(() => events.some(event => event.type === 'model.state' && event.state === 'ready'), 20_000, 'chat ready');
		assert.deepEqual(events.filter(event => event.type === 'model.state').map(event => event.type === 'model.state' && event.state), ['loading', 'ready']);
		assert.ok(events.some(event => event.type === 'backend.state' && event.model === 'chat' && event.state === 'ready'), 'the backend\'s state');
		await until(() => events.some(event => event.type === 'switchboard.log' && /model ready.*model=chat/.test(event.line)), 20_000, 'switchboard\'s own log line');
		assert.ok(!events.some(event => (event.type as string) === 'snapshot'), 'the snapshot is not an event');
		assert.deepEqual(troubles, []);
		assert.equal((await link.request('GET', '/status')).status, 200);

		const reader = await openAttach([switchboard.url], {SWITCHBOARD_ADMIN_KEY: 'sk-team'});
		links.push(reader.link);
		assert.equal(reader.status.models[0]!.state, 'ready', 'any valid key reads');
		assert.equal(await attachRefusal([switchboard.url, '--admin-key', 'sk-wrong']), `${switchboard.url} does not take the key from --admin-key (GET /status answered 401). Any of its keys reads; its commands need the admin key.`);
		assert.match(await attachRefusal([switchboard.url]), /needs a key: give one with --admin-key K \(or SWITCHBOARD_ADMIN_KEY\)/);

		const wrong = remoteLink({url: switchboard.url, adminKey: 'sk-wrong'});
		const refused = follow(wrong);
		assert.equal((await wrong.request('GET', '/status')).status, 401);
		await until(() => refused.troubles.length > 0, 20_000, 'the refusal of the event stream');
		assert.equal(refused.troubles[0], `${switchboard.url}/events answered 401: This admin route needs an API key: send \`Authorization: Bearer <key>\`.`);

		const attached = await attachCommand(switchboard.url, '--admin-key', 'sk-admin');
		assert.equal(attached.code, 0, attached.stderr);
		assert.equal(attached.stdout, `switchboard ${status.switchboard.version} at ${switchboard.url}: chat (ready). The console needs a terminal.\n`);
		const wrongKey = await attachCommand(switchboard.url, '--admin-key', 'sk-wrong');
		assert.equal(wrongKey.code, 2);
		assert.match(wrongKey.stderr, /^switchboard: http:\/\/127\.0\.0\.1:\d+ does not take the key from --admin-key/);
	});

	it('says when nothing answers at the address', async () => {
		const url = `http://127.0.0.1:${await unusedPort()}`;
		assert.equal(await attachRefusal([url]), `cannot reach ${url}: connection refused. Is switchboard running there, and listening on that interface (--host)?`);
		const command = await attachCommand(url.slice('http://'.length));
		assert.equal(command.code, 2);
		assert.equal(command.stderr, `switchboard: cannot reach ${url}: connection refused. Is switchboard running there, and listening on that interface (--host)?\n`);
	});

	it('tells how with --help', async () => {
		const help = await attachCommand('--help');
		assert.equal(help.code, 0);
		assert.match(help.stdout, /\$ switchboard attach URL \[--admin-key K\]/);
	});

	it('follows a switchboard without keys through a restart on the same port', async () => {
		const config = configFile();
		const first = await start(['--config', config]);
		const {link} = await openAttach([first.url], {});
		const {events, troubles} = follow(link);
		assert.equal((await link.request('POST', '/models/chat/start?wait=false')).status, 202);
		await until(() => events.some(event => event.type === 'model.state' && event.state === 'ready'), 20_000, 'chat ready');

		await first.stop();
		running.splice(running.indexOf(first), 1);
		await until(() => troubles.some(message => message?.startsWith(`cannot reach ${first.url}: connection refused`)), 20_000, 'the link to say switchboard is gone');
		const before = events.length;

		await start(['--config', config, '--port', new URL(first.url).port]);
		await until(() => troubles.at(-1) === undefined, 20_000, 'the link to say it is back');
		assert.ok(troubles.indexOf(undefined) > 0, `down, then up: ${JSON.stringify(troubles)}`);
		assert.equal(troubles.filter(message => message === undefined).length, 1);
		assert.equal((await link.request('POST', '/models/chat/start?wait=false')).status, 202);
		await until(() => events.slice(before).some(event => event.type === 'model.state' && event.state === 'ready'), 20_000, 'chat ready on the new switchboard');
		assert.ok(!events.some(event => (event.type as string) === 'events.lost'), 'a lost-events notice is not passed on');
	});
});
