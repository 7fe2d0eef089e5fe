/** @jsxRuntime automatic */
import '../helpers/force-color.js';
import assert from 'node:assert/strict';
import {stripVTControlCharacters} from 'node:util';
import {describe, it} from 'node:test';
import {render} from 'ink-testing-library';
import {LogPane} from '../../source/ui/components/log-pane.js';
import {keyMap} from '../../source/ui/keys.js';
import {ownEntry} from '../../source/ui/state/log-entries.js';
import {ColorContext} from '../../source/ui/theme.js';
import {models, sampleFleet} from '../helpers/console-link.js';
import {consoleScreens, keys, type ConsoleScreen} from '../helpers/render-console.js';


const spinner = '⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏';
/** A foreground colour (30–37, 90–97) or dim (2): what ColorContext switches off. */
const colourCode = /\u001B\[(?:3[0-7]|9[0-7]|2)m/;
const red = '\u001B[31m';
const yellow = '\u001B[33m';
const ownLog = [
	'12:00:01.000 INFO  [fleet] qwen3-8b: loaded the configuration',
	'12:00:02.000 WARN  [health] mistral-7b answers slowly',
	'12:00:03.000 ERROR [fleet] gemma-9b exited with code 1',
	'12:00:04.000 DEBUG [probe] scraped 3 backends',
];

const open = consoleScreens(() => ({models: sampleFleet, ownLog}));

const escaped = (text: string) => text.replaceAll(/[.*+?^${}()|[\]\\]/g, String.raw`\$&`);

describe('header', () => {
	it('shows the address, version, uptime, models ready, req/s, errors and auth', async () => {
		const screen = await open({columns: 120});
		const [header] = screen.lines();
		assert.match(header!, /^switchboard 0\.1\.0 {2}http:\/\/127\.0\.0\.1:8080 {2}up 1h02m {2}models 2\/6 ready {2}5\.7 req\/s {2}errors 7 {2}auth off$/);
		assert.doesNotMatch(header!, /attached/);

		screen.link.about.auth = true;
		await screen.wait(1000);
		assert.match(screen.lines()[0]!, /auth on$/);
	});

	it('says it is attached, and where to, before the first reply', async () => {
		const screen = await open({columns: 120, attachedTo: 'http://127.0.0.1:8080', remote: true});
		assert.match(screen.lines()[0]!, /^switchboard 0\.1\.0 {2}http:\/\/127\.0\.0\.1:8080 \(attached\) {2}up/);
	});

	it('counts errors in red', async () => {
		const screen = await open({columns: 120});
		assert.ok(screen.raw().split('\n')[0]!.includes(`${red}  errors 7`));
	});
});

describe('backends table', () => {
	it('shows a stopped model with no figures', async () => {
		const screen = await open();
		assert.match(screen.row('qwen3-8b')!, /^qwen3-8b +stopped +- +-$/);
	});

	it('spins while a model loads and counts the time it has been loading', async () => {
		const screen = await open();
		const row = screen.row('llama-70b')!;
		assert.match(row, new RegExp(`^llama-70b +0 [${spinner}] loading 42s +4101 +- +- +- +- +- +- +- +- +- +-$`));
		await screen.wait(250);
		const next = screen.row('llama-70b')!;
		assert.notEqual(next.replace(/^\S+ +0 /, '')[0], row.replace(/^\S+ +0 /, '')[0], 'the spinner moves');
		await screen.wait(5000);
		assert.match(screen.row('llama-70b')!, /loading 47s/);
	});

	it('shows a queued SLURM job: its id and why it waits', async () => {
		const screen = await open({columns: 130});
		// The NODE column (8 wide) shows the start of the reason; the detail pane shows it whole.
		assert.match(screen.row('deepseek-r1')!, new RegExp(`^deepseek-r1 +0 slurm +[${spinner}] queued 5s +81734 Resourc`));
		await screen.press('j', 'j', 'j', keys.enter);
		assert.ok(screen.lines().includes('deepseek-r1 #0  queued for 5s  Resources  idle timeout 30m00s'), screen.frame());
		assert.ok(screen.lines().includes('slurm  job 81734 PENDING'), screen.frame());
	});

	it('shows a ready model\'s figures and when it stops if idle', async () => {
		const screen = await open();
		const header = screen.lines()[1]!;
		assert.match(header, /^MODEL +# STATE +PID\/JOB RUN WAIT {2}KV% REQ\/S {4}P50 {4}P95 {3}TTFT TOK\/S {2}ERR {3}IDLE$/);
		assert.match(screen.row('mistral-7b')!, /^mistral-7b +0 ready +4102 {3}3 {4}2 {3}42 {3}4\.2 {2}850ms {3}2\.3s {2}120ms {3}812 {4}7 {2}5m00s$/);
	});

	it('counts the idle time down, in yellow in the last minute', async () => {
		const screen = await open({models: now => [models.ready('mistral-7b', {readyAt: now - 600_000, idleStopAt: now + 62_000})]});
		assert.match(screen.row('mistral-7b')!, / 1m02s$/);
		await screen.wait(3000);
		assert.match(screen.row('mistral-7b')!, / 59s$/);
		assert.ok(screen.raw().split('\n').find(line => line.includes('mistral-7b'))!.includes(`${yellow}    59s`));
	});

	it('shows a failed model, and says why in a toast when it fails', async () => {
		const screen = await open();
		assert.match(screen.row('gemma-9b')!, /^gemma-9b +failed +- +-$/);
		screen.link.emit({type: 'model.state', model: 'gemma-9b', state: 'failed', previous: 'loading', reason: 'exited with code 1: CUDA out of memory', at: screen.clock.now()});
		await screen.wait(100);
		assert.equal(screen.statusLine(), 'gemma-9b failed: exited with code 1: CUDA out of memory');
	});

	it('shows a static backend: always ready, never idle-stopped', async () => {
		const screen = await open({columns: 130});
		assert.match(screen.row('embedder')!, /^embedder +0 static ready +- +9000 +1 +- +- +1\.5 +- +- +- +- +0 +never$/);
	});

	it('says when no model is configured', async () => {
		const screen = await open({models: () => []});
		assert.equal(screen.lines()[2], 'No models configured.');
	});
});

describe('detail pane', () => {
	it('shows where the selected backend runs, graphs of its figures and its own log lines', async () => {
		const screen = await open();
		const now = screen.clock.now();
		screen.link.emit({type: 'log', model: 'mistral-7b', line: 'INFO: Started server process [4102]', at: now});
		screen.link.emit({type: 'log', model: 'llama-70b', line: 'Loading safetensors checkpoint shards: 40%', at: now});
		screen.link.emit({type: 'log', model: 'mistral-7b', line: 'INFO: 127.0.0.1 - "POST /v1/chat/completions HTTP/1.1" 200 OK', at: now});
		// A sample every 2 s: requests per second climb from 0 to 7, the KV cache fills.
		const [server] = screen.link.models[2]!.servers;
		for (let rps = 0; rps <= 7; rps++) {
			server!.detailed_metrics.requests_per_second = rps;
			server!.detailed_metrics.gpu_cache_usage_perc = rps * 10;
			await screen.wait(2000);
		}

		await screen.press('j', 'j', keys.enter);
		const lines = screen.lines();
		const title = lines.findIndex(line => line.startsWith('── mistral-7b #0 · details'));
		assert.ok(title > 0, screen.frame());
		assert.match(lines[title + 1]!, /^mistral-7b #0 {2}ready for 10m16s {2}idle stop in 4m4\ds {2}idle timeout 30m00s$/);
		assert.equal(lines[title + 2], 'local  pid 4102  GPU 1  http://127.0.0.1:8102  log /tmp/switchboard/mistral-7b.log');
		// The first sample is the first read's (4.2 req/s, 41.6 %), then the climb.
		assert.match(lines[title + 3]!, /^req\/s +▅▁▂▃▄▅▆▇█ 7$/);
		assert.match(lines[title + 4]!, /^p50 +█{9} 850ms$/);
		assert.match(lines[title + 5]!, /^KV % +▄▁▂▂▃▄▅▅▆ 70%$/);
		const logs = lines.slice(title + 6, -2).filter(line => line !== '');
		assert.deepEqual(logs.map(line => line.replace(/^\d\d:\d\d:\d\d /, '')), [
			'[mistral-7b] INFO: Started server process [4102]',
			'[mistral-7b] INFO: 127.0.0.1 - "POST /v1/chat/completions HTTP/1.1" 200 OK',
		]);

		await screen.press(keys.enter);
		assert.ok(screen.lines().some(line => line.startsWith('── logs · following')), 'enter goes back to the logs');
	});

	it('says a stopped model has no figures yet', async () => {
		const screen = await open();
		await screen.press(keys.enter);
		const lines = screen.lines();
		assert.ok(lines.includes('qwen3-8b  stopped  idle timeout 30m00s'), screen.frame());
		assert.ok(lines.includes('No figures while it does not run; the graphs start when it serves.'));
	});
});

describe('log pane', () => {
	it('shows switchboard\'s log and the backends\' lines as they come, the newest at the bottom', async () => {
		const screen = await open();
		screen.link.emit({type: 'switchboard.log', line: '12:00:05.123 INFO  [fleet] llama-70b: ready in 48s', at: screen.clock.now()});
		await screen.wait(100);
		const lines = screen.lines();
		const title = lines.findIndex(line => line.startsWith('── logs · following'));
		assert.deepEqual(lines.slice(title + 1, title + 6), [
			'12:00:01 [fleet] qwen3-8b: loaded the configuration',
			'12:00:02 WARN [health] mistral-7b answers slowly',
			'12:00:03 ERROR [fleet] gemma-9b exited with code 1',
			'12:00:04 DEBUG [probe] scraped 3 backends',
			'12:00:05 [fleet] llama-70b: ready in 48s',
		]);
	});

	it('colours lines by level', async () => {
		const screen = await open();
		const raw = screen.raw().split('\n');
		const line = (text: string) => raw.find(candidate => candidate.includes(text)) ?? '';
		assert.ok(line('answers slowly').includes(yellow), 'a warning is yellow');
		assert.ok(line('exited with code 1').includes(red), 'an error is red');
		assert.ok(line('scraped 3 backends').includes('\u001B[2m'), 'debug is dim');
		assert.doesNotMatch(line('loaded the configuration'), colourCode, 'info is plain');
	});

	it('shows no colour at all under NO_COLOR, and the same words', async () => {
		const coloured = await open();
		const words = coloured.frame();
		assert.match(coloured.raw(), colourCode);
		coloured.close();
		const plain = await open({color: false});
		assert.doesNotMatch(plain.raw(), colourCode);
		assert.equal(plain.frame(), words);
	});
});

describe('log pane, on its own', () => {
	it('redraws with the lines it is given, coloured only when colours are wanted', () => {
		const entries = [ownEntry(1, '12:00:01.000 WARN  [health] mistral-7b answers slowly'), ownEntry(2, '12:00:02.000 ERROR [fleet] gemma-9b exited')];
		const pane = render(<LogPane entries={entries} width={60} height={3} scroll={0}/>);
		const text = () => stripVTControlCharacters(pane.lastFrame()!).split('\n').map(line => line.trimEnd());
		assert.deepEqual(text(), ['12:00:01 WARN [health] mistral-7b answers slowly', '12:00:02 ERROR [fleet] gemma-9b exited', '']);
		assert.ok(pane.lastFrame()!.includes(`${yellow}12:00:01 WARN`));
		assert.ok(pane.lastFrame()!.includes(`${red}12:00:02 ERROR`));

		const more = [...entries, ownEntry(3, '12:00:03.000 INFO  [fleet] gemma-9b: restarting')];
		pane.rerender(<ColorContext.Provider value={false}><LogPane entries={more} width={60} height={3} scroll={0}/></ColorContext.Provider>);
		assert.deepEqual(text(), ['12:00:01 WARN [health] mistral-7b answers slowly', '12:00:02 ERROR [fleet] gemma-9b exited', '12:00:03 [fleet] gemma-9b: restarting']);
		assert.doesNotMatch(pane.lastFrame()!, colourCode);

		pane.rerender(<ColorContext.Provider value={false}><LogPane entries={more} width={60} height={3} scroll={2}/></ColorContext.Provider>);
		assert.deepEqual(text(), ['12:00:01 WARN [health] mistral-7b answers slowly', '', ''], 'scrolled 2 up: the two newer lines are below');
		pane.unmount();
	});
});

describe('help', () => {
	it('lists every key of keys.ts with what it does', async () => {
		const screen = await open({columns: 120});
		await screen.press('?');
		const lines = screen.lines();
		for (const key of keyMap.filter(key => key.help !== '')) {
			assert.ok(lines.some(line => new RegExp(`^${escaped(key.keys)} +${escaped(key.help)}$`).test(line)), `${key.keys}: ${key.help}\n${screen.frame()}`);
		}

		await screen.press(keys.escape);
		assert.ok(screen.row('qwen3-8b'), 'esc closes the help');
	});

	it('fits every key in 80×24', async () => {
		const screen = await open({columns: 80, rows: 24});
		await screen.press('?');
		const lines = screen.lines();
		for (const key of keyMap.filter(key => key.help !== '')) {
			assert.ok(lines.some(line => line.startsWith(`${key.keys} `)), `${key.keys}\n${screen.frame()}`);
		}

		await screen.press('?');
		assert.ok(screen.row('qwen3-8b'), '? closes the help');
	});

	it('lists in the footer the keys of the part that has them', async () => {
		const screen = await open({columns: 120});
		const tableKeys = screen.lines().at(-1)!;
		for (const key of keyMap.filter(key => key.footer !== 'logs')) {
			assert.ok(tableKeys.includes(`${key.keys} ${key.label}`), `${key.keys} ${key.label}: ${tableKeys}`);
		}

		await screen.press('l');
		const logKeys = screen.lines().at(-1)!;
		for (const key of keyMap.filter(key => key.footer !== 'table')) {
			assert.ok(logKeys.includes(`${key.keys} ${key.label}`), `${key.keys} ${key.label}: ${logKeys}`);
		}
	});
});

describe('status line', () => {
	it('says when an attached console has lost its switchboard, until it is back', async () => {
		const screen = await open({remote: true, attachedTo: 'http://127.0.0.1:8080'});
		screen.link.troubled('Lost http://127.0.0.1:8080 (connect ECONNREFUSED); trying again every 2s…');
		await screen.wait(100);
		assert.equal(screen.statusLine(), 'Lost http://127.0.0.1:8080 (connect ECONNREFUSED); trying again every 2s…');
		assert.ok(screen.raw().split('\n').at(-2)!.includes(yellow));
		screen.link.troubled(undefined);
		await screen.wait(100);
		assert.equal(screen.statusLine(), '');
	});
});

describe('a model that appears', () => {
	it('gets its row on the next read after the event', async () => {
		const screen = await open();
		screen.link.models.push(models.stopped('phi-4'));
		screen.link.emit({type: 'model.added', model: 'phi-4', at: screen.clock.now()});
		await screen.wait(300);
		assert.ok(screen.row('phi-4'), screen.frame());
	});
});
