import assert from 'node:assert/strict';
import {describe, it} from 'node:test';
import {models, sampleFleet} from '../helpers/console-link.js';
import {consoleScreens, keys, type ConsoleScreen} from '../helpers/render-console.js';

type Screen = ConsoleScreen;

/** The sample fleet, and a stopped model of a group; qwen3-8b, the first, is selected. */
const open = consoleScreens(() => ({models: now => [...sampleFleet(now), models.stopped('qwen3-32b', {group: 'gpu0'})]}));

describe('s: start', () => {
	it('starts a model of no group, and says when it is ready', async () => {
		const screen = await open();
		await screen.press('s');
		assert.deepEqual(screen.commands(), ['POST /models/qwen3-8b/start']);
		assert.equal(screen.statusLine(), 'qwen3-8b is ready.');
	});

	it('switches the group to a model of a group', async () => {
		const screen = await open();
		for (let row = 0; row < 6; row++) {
			await screen.press('j');
		}

		assert.equal(screen.selected(), 'qwen3-32b');
		await screen.press('s');
		assert.deepEqual(screen.commands(), ['POST /switch {"model":"qwen3-32b"}']);
		assert.equal(screen.statusLine(), 'qwen3-32b is ready.');
	});

	it('shows what is under way while the switchboard has not answered', async () => {
		// Nothing loads: no spinner to redraw four times a second while the clock runs 16 s.
		const screen = await open({models: () => [models.stopped('qwen3-8b')]});
		let answer: (() => void) | undefined;
		const {request} = screen.link;
		screen.link.request = async (method, path, body) => {
			if (method !== 'GET') {
				await new Promise<void>(resolve => {
					answer = resolve;
				});
			}

			return request.call(screen.link, method, path, body);
		};

		await screen.press('s');
		assert.equal(screen.statusLine(), 'Starting qwen3-8b…');
		await screen.wait(10_000);
		assert.equal(screen.statusLine(), 'Starting qwen3-8b…', 'an action under way does not fade');
		answer!();
		await screen.wait(100);
		assert.equal(screen.statusLine(), 'qwen3-8b is ready.');
		await screen.wait(6000);
		assert.equal(screen.statusLine(), '', 'its outcome fades');
	});
});

describe('x: stop', () => {
	it('asks first; y stops', async () => {
		const screen = await open();
		await screen.press('j', 'j', 'x');
		assert.equal(screen.statusLine(), 'Stop mistral-7b? [y/N]');
		assert.deepEqual(screen.commands(), []);
		await screen.press('y');
		assert.deepEqual(screen.commands(), ['POST /models/mistral-7b/stop']);
		assert.equal(screen.statusLine(), 'mistral-7b stopped.');
	});

	for (const [name, key] of [['n', 'n'], ['esc', keys.escape], ['enter', keys.enter]] as const) {
		it(`asks first; ${name} sends nothing`, async () => {
			const screen = await open();
			await screen.press('j', 'j', 'x');
			await screen.press(key);
			assert.equal(screen.statusLine(), '');
			await screen.press('y');
			assert.deepEqual(screen.commands(), [], 'the question is gone: a later y answers nothing');
		});
	}
});

describe('r: restart', () => {
	it('asks first when the model runs', async () => {
		const screen = await open();
		await screen.press('j', 'j', 'r');
		assert.equal(screen.statusLine(), 'Restart mistral-7b? Requests in flight are cut. [y/N]');
		assert.deepEqual(screen.commands(), []);
		await screen.press('y');
		assert.deepEqual(screen.commands(), ['POST /models/mistral-7b/restart']);
		assert.equal(screen.statusLine(), 'mistral-7b restarted and ready.');
	});

	it('restarts a stopped model at once', async () => {
		const screen = await open();
		await screen.press('r');
		assert.deepEqual(screen.commands(), ['POST /models/qwen3-8b/restart']);
	});
});

describe('t: idle timeout', () => {
	it('opens with the selected model\'s timeout; 10m sets it', async () => {
		const screen = await open();
		screen.link.models[2]!.entry.idle_timeout = 5400;
		await screen.wait(1000);
		await screen.press('j', 'j', 't');
		const prompt = 'Idle timeout of mistral-7b (30m, 90s, 0 = never, empty = as configured): ';
		assert.equal(screen.statusLine(), `${prompt}90m█`);
		await screen.press(keys.backspace, keys.backspace, keys.backspace, '1', '0', 'm');
		assert.equal(screen.statusLine(), `${prompt}10m█`);
		await screen.press(keys.enter);
		assert.deepEqual(screen.link.sent, [{method: 'PUT', path: '/models/mistral-7b/idle-timeout', body: {idle_timeout: '10m'}}]);
		assert.equal(screen.statusLine(), 'mistral-7b now stops after 10m without requests.');
	});

	it('empty: back to the configured timeout', async () => {
		const screen = await open();
		await screen.press('t', '\u007F\u007F\u007F\r');
		assert.deepEqual(screen.link.sent, [{method: 'PUT', path: '/models/qwen3-8b/idle-timeout', body: {idle_timeout: null}}]);
		assert.equal(screen.statusLine(), 'qwen3-8b\'s idle timeout is back to the configured one.');
	});

	it('takes keys pasted as one chunk', async () => {
		const screen = await open();
		await screen.press('t', '\u007F\u007F5m\r');
		// 30m, two characters deleted: 3, then 5m.
		assert.deepEqual(screen.commands(), ['PUT /models/qwen3-8b/idle-timeout {"idle_timeout":"35m"}']);
	});

	for (const text of ['abc', '-5', '30 days', '30d']) {
		it(`refuses ${JSON.stringify(text)}, says why and sends nothing`, async () => {
			const screen = await open({columns: 80});
			await screen.press('t', `\u007F\u007F\u007F${text}\r`);
			assert.deepEqual(screen.commands(), []);
			// In 80 columns: what was typed, and why it is refused (cut only when the text is long).
			assert.match(screen.statusLine(), new RegExp(`^Idle timeout: ${text}█  must be a duration such as 1800 \\(seconds\\), 90s, 30m `));
			if (text.length <= 4) {
				assert.match(screen.statusLine(), / 30m or 2h$/);
			}

			await screen.press('x');
			assert.equal(screen.statusLine(), `Idle timeout of qwen3-8b (30m, 90s, 0 = never, empty = as configured): ${text}x█`, 'the next key clears the error');
			await screen.press(keys.escape);
			assert.equal(screen.statusLine(), '');
			assert.deepEqual(screen.commands(), []);
		});
	}

	it('refuses too long a timeout, and says how long it may be', async () => {
		const screen = await open({columns: 80});
		await screen.press('t', '\u007F\u007F\u007F999h\r');
		assert.match(screen.statusLine(), /999h█ +must be at most 24 days; 0 means never$/);
		await screen.press('\u007F\u007F\u007F\u007F0\r');
		assert.deepEqual(screen.commands(), ['PUT /models/qwen3-8b/idle-timeout {"idle_timeout":"0"}']);
		assert.equal(screen.statusLine(), 'qwen3-8b now never stops for want of requests.');
	});
});

describe('/: filter', () => {
	it('narrows the table to the models and the logs to the lines that hold the text; esc clears it', async () => {
		const screen = await open({ownLog: ['12:00:01.000 INFO  [fleet] qwen3-8b: configured', '12:00:02.000 WARN  [health] mistral-7b answers slowly']});
		await screen.press('/');
		assert.equal(screen.statusLine(), 'Filter (model or text; empty shows all): █');
		await screen.press('QWEN\r');
		const lines = screen.lines();
		assert.deepEqual(lines.filter(line => /^\S+ +\d? +(?:[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] )?[a-z]+/.test(line)).map(line => /^\S+/.exec(line)![0]), ['qwen3-8b', 'qwen3-32b']);
		assert.ok(lines.some(line => line.startsWith('── logs · following · filter “QWEN”')), screen.frame());
		assert.ok(lines.includes('12:00:01 [fleet] qwen3-8b: configured'));
		assert.ok(!lines.some(line => line.includes('answers slowly')));

		await screen.press('j', 'x', 'y');
		assert.deepEqual(screen.commands(), ['POST /models/qwen3-32b/stop'], 'keys act on the rows shown');

		await screen.press(keys.escape);
		assert.ok(screen.row('mistral-7b'));
		assert.ok(screen.lines().some(line => line.includes('answers slowly')));
		assert.ok(screen.lines().some(line => /^── logs · following ─+$/.test(line)), 'the filter is gone from the title');
	});

	it('says when nothing matches', async () => {
		const screen = await open();
		await screen.press('/', 'nothing-like-it\r');
		assert.ok(screen.lines().includes('No model matches “nothing-like-it” (esc clears the filter).'), screen.frame());
		await screen.press('s');
		assert.deepEqual(screen.commands(), [], 'no row: no action');
	});
});

describe('selection', () => {
	it('j/k and the arrows move it, and the next action is the new row\'s', async () => {
		const screen = await open();
		assert.equal(screen.selected(), 'qwen3-8b');
		await screen.press('j');
		assert.equal(screen.selected(), 'llama-70b');
		await screen.press(keys.down);
		assert.equal(screen.selected(), 'mistral-7b');
		await screen.press(keys.down, keys.up);
		assert.equal(screen.selected(), 'mistral-7b');
		await screen.press('k');
		assert.equal(screen.selected(), 'llama-70b');
		await screen.press('x', 'y');
		assert.deepEqual(screen.commands(), ['POST /models/llama-70b/stop']);
		await screen.press('k', 'k', 'k');
		assert.equal(screen.selected(), 'qwen3-8b', 'the first row is as far as it goes');
	});

	it('stays on its model when the rows above it change', async () => {
		const screen = await open();
		await screen.press('j', 'j');
		screen.link.models.shift();
		await screen.wait(1000);
		assert.equal(screen.selected(), 'mistral-7b');
	});
});

describe('log pane', () => {
	async function withLongLog(): Promise<Screen> {
		const screen = await open();
		for (let line = 1; line <= 30; line++) {
			screen.link.emit({type: 'switchboard.log', line: `12:00:${String(line).padStart(2, '0')}.000 INFO  [fleet] line ${line}`, at: screen.clock.now()});
		}

		await screen.wait(100);
		return screen;
	}

	const shownLines = (screen: Screen) => screen.lines().filter(line => /\[fleet\] line \d+$/.test(line)).map(line => Number(/\d+$/.exec(line)![0]));

	it('tab moves the keys there: j/k scroll, f and G follow again', async () => {
		const screen = await withLongLog();
		const following = shownLines(screen);
		assert.equal(following.at(-1), 30);
		await screen.press(keys.tab);
		assert.match(screen.lines().at(-1)!, /^↑↓ j k scroll f follow g G top\/end/);
		await screen.press('k', 'k', 'k');
		assert.deepEqual(shownLines(screen), following.map(line => line - 3));
		assert.ok(screen.lines().some(line => line.startsWith('── logs · scrolled 3 up (f follows)')), screen.frame());
		assert.equal(screen.selected(), undefined, 'the table shows no selection without the keys');
		await screen.press('j');
		assert.deepEqual(shownLines(screen), following.map(line => line - 2));
		await screen.press('f');
		assert.deepEqual(shownLines(screen), following);
		assert.ok(screen.lines().some(line => line.startsWith('── logs · following')));
		await screen.press('g');
		assert.equal(shownLines(screen)[0], 1, 'g: the oldest line');
		await screen.press('G');
		assert.deepEqual(shownLines(screen), following);

		await screen.press(keys.tab, 'j');
		assert.equal(screen.selected(), 'llama-70b', 'tab gives the keys back to the table');
		assert.deepEqual(shownLines(screen), following);
	});

	it('l moves the keys there too; a scrolled pane stays put as lines come', async () => {
		const screen = await withLongLog();
		await screen.press('l', 'k');
		const scrolled = shownLines(screen);
		screen.link.emit({type: 'switchboard.log', line: '12:01:00.000 INFO  [fleet] line 31', at: screen.clock.now()});
		await screen.wait(100);
		assert.deepEqual(shownLines(screen), scrolled);
		assert.ok(screen.lines().some(line => line.startsWith('── logs · scrolled 2 up (f follows)')), screen.frame());
		await screen.press('f');
		assert.equal(shownLines(screen).at(-1), 31);
	});

	it('f while following stays on the lines shown', async () => {
		const screen = await withLongLog();
		await screen.press('l', 'f');
		const shown = shownLines(screen);
		screen.link.emit({type: 'switchboard.log', line: '12:01:00.000 INFO  [fleet] line 31', at: screen.clock.now()});
		await screen.wait(100);
		assert.deepEqual(shownLines(screen), shown);
		await screen.press('f');
		assert.equal(shownLines(screen).at(-1), 31);
	});
});

describe('errors', () => {
	for (const [status, message, type] of [
		[409, 'qwen3-8b is stopping; start it once it has stopped.', 'invalid_request_error'],
		[503, 'qwen3-8b is unavailable: its command was not found (vllm).', 'server_error'],
	] as const) {
		it(`a ${status} shows the switchboard's message`, async () => {
			const screen = await open();
			screen.link.refusal = {status, message, type};
			await screen.press('s');
			assert.equal(screen.statusLine(), message);
			assert.ok(screen.raw().split('\n').at(-2)!.includes('\u001B[31m'), 'in red');
		});
	}

	it('a reply that is not JSON shows its status and text', async () => {
		const screen = await open();
		screen.link.request = async () => ({status: 502, body: 'Bad Gateway'});
		await screen.press('s');
		assert.equal(screen.statusLine(), 'HTTP 502: Bad Gateway');
	});
});
