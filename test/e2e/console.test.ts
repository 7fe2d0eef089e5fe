import assert from 'node:assert/strict';
import {mkdtempSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {after, describe, it} from 'node:test';
import stringWidth from 'string-width';
import {cliPath, isAlive, until} from '../helpers/switchboard-process.js';
import {TmuxSession, tmuxMissing} from '../helpers/tmux.js';

const missing = tmuxMissing();
const underCi = process.env['CI'] === 'true';
const sessions: TmuxSession[] = [];

after(() => {
	for (const session of sessions) {
		session.kill();
	}
});

function simModel(name: string, extra = ''): string {
	const command = [process.execPath, cliPath, 'sim', '--model', name, '--startup-delay', '0.5', '--host', '{host}', '--port', '{port}'];
	return `
[[models]]
name = "${name}"
command = ${JSON.stringify(command)}
idle_timeout = "10m"
${extra}`;
}

interface Entry {
	name: string;
	state: string;
	idle_timeout: number;
	pid: number | null;
}

async function models(url: string): Promise<Entry[]> {
	const reply = await fetch(`${url}/status`);
	return ((await reply.json()) as {models: Entry[]}).models;
}

async function modelState(url: string, name: string): Promise<Entry> {
	return (await models(url)).find(model => model.name === name)!;
}

/** The table's line of `name` (the first column is the model). */
const rowOf = (name: string) => new RegExp(`^${name} `);

describe('the console in tmux', {skip: !underCi && missing}, () => {
	it('starts, switches, stops, sets the idle timeout, follows the admin API, survives 80x24 and quits leaving nothing behind', async () => {
		assert.equal(missing, undefined, missing);
		const directory = mkdtempSync(path.join(os.tmpdir(), 'switchboard-console-'));
		const config = path.join(directory, 'switchboard.toml');
		writeFileSync(config, `
[server]
port = 0
log_dir = ${JSON.stringify(path.join(directory, 'logs'))}
state_dir = ${JSON.stringify(path.join(directory, 'state'))}
${simModel('alpha')}
${simModel('beta', 'group = "gpu0"')}
${simModel('gamma', 'group = "gpu0"')}
`);
		const session = new TmuxSession([process.execPath, cliPath, '--config', config], {columns: 140, rows: 36});
		sessions.push(session);

		const header = await session.line(/^switchboard \S+ +http:\/\/127\.0\.0\.1:\d+/);
		const url = /http:\/\/127\.0\.0\.1:\d+/.exec(header)![0];
		assert.match(header, /models 0\/3 ready/);
		assert.match(await session.line(rowOf('alpha')), /stopped/);
		assert.match(session.screen().at(-1)!, /q quit/, 'the footer shows the keys');

		// s on the first row starts alpha.
		session.keys('s');
		await session.line(/^alpha .* ready /);
		assert.equal((await modelState(url, 'alpha')).state, 'ready');

		// t: the idle timeout dialog refuses nonsense, then takes 2m.
		session.keys('t');
		await session.line(/Idle timeout of alpha/);
		session.keys('BSpace', 'BSpace', 'BSpace', 'BSpace', 'BSpace', 'soon', 'Enter');
		await session.line(/Idle timeout: soon.*must be a duration/);
		assert.equal((await modelState(url, 'alpha')).idle_timeout, 600, 'nothing sent for an invalid value');
		for (let index = 0; index < 4; index++) {
			session.keys('BSpace');
		}

		session.keys('2m', 'Enter');
		await session.line(/alpha now stops after 2m without requests/);
		assert.equal((await modelState(url, 'alpha')).idle_timeout, 120);

		// The same change through the admin API shows in the details.
		const put = await fetch(`${url}/models/alpha/idle-timeout`, {method: 'PUT', headers: {'content-type': 'application/json'}, body: JSON.stringify({idle_timeout: '45s'})});
		assert.equal(put.status, 200);
		session.keys('Enter');
		await session.line(/alpha #0 +ready .*idle timeout 45s/);
		session.keys('Enter');

		// A start through the admin API shows up too.
		assert.equal((await fetch(`${url}/models/beta/start`, {method: 'POST'})).status, 200);
		await session.line(/^beta .* ready /);

		// s on gamma switches group gpu0 from beta to gamma.
		session.keys('j');
		await until(() => true);
		session.keys('j');
		await new Promise(resolve => setTimeout(resolve, 300));
		session.keys('s');
		await session.line(/^gamma .* ready /);
		await session.line(/^beta .*stopped/);
		assert.equal((await modelState(url, 'beta')).state, 'stopped');
		assert.equal((await modelState(url, 'gamma')).state, 'ready');
		const gammaPid = (await modelState(url, 'gamma')).pid!;
		const alphaPid = (await modelState(url, 'alpha')).pid!;

		// x asks; n keeps it, y stops it.
		session.keys('x');
		await session.line(/Stop gamma\? \[y\/N\]/);
		session.keys('n');
		await new Promise(resolve => setTimeout(resolve, 500));
		assert.equal((await modelState(url, 'gamma')).state, 'ready');
		session.keys('x');
		await session.line(/Stop gamma\? \[y\/N\]/);
		session.keys('y');
		await session.line(/^gamma .*stopped/);
		assert.equal((await modelState(url, 'gamma')).state, 'stopped');
		await until(() => !isAlive(gammaPid), 10_000, 'gamma\'s server to end');

		// 80x24: every line fits, the header is on top, the table's header and the footer are there.
		session.resize(80, 24);
		await until(() => session.screen().length === 24 && session.screen()[0]!.startsWith('switchboard') && /q quit/.test(session.screen().at(-1)!), 10_000, 'the layout at 80x24');
		const small = session.screen();
		assert.ok(small.every(line => stringWidth(line) <= 80), small.join('\n'));
		assert.equal(small.filter(line => line.startsWith('switchboard ')).length, 1, `one header, no leftovers of the bigger screen:\n${small.join('\n')}`);
		assert.ok(small.some(line => /^MODEL +.*STATE/.test(line)), small.join('\n'));
		assert.ok(small.some(line => rowOf('alpha').test(line)), small.join('\n'));

		// q asks, because alpha runs; y stops it and quits, and nothing is left.
		session.keys('q');
		await session.line(/Quit and stop alpha\? \[y\/N\]/);
		session.keys('y');
		await session.line(/^switchboard stopped\. Its log: /, 30_000);
		await session.line(/^\[exited 0\]/);
		assert.equal(isAlive(alphaPid), false, 'alpha\'s server ended with switchboard');
		await assert.rejects(fetch(`${url}/status`), 'the proxy is gone');
	});
});
