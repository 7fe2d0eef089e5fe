import assert from 'node:assert/strict';
import {describe, it} from 'node:test';
import {models, sampleFleet} from '../helpers/console-link.js';
import {consoleScreens, type ConsoleScreen} from '../helpers/render-console.js';


const open = consoleScreens();

describe('q: quit', () => {
	it('asks before stopping what runs, naming the SLURM jobs; quits only after y', async () => {
		const screen = await open({models: sampleFleet});
		await screen.press('q');
		assert.equal(screen.statusLine(), 'Quit and stop llama-70b, mistral-7b, deepseek-r1 (1 SLURM job)? [y/N]');
		assert.equal(screen.quits, 0);
		await screen.press('y');
		assert.equal(screen.quits, 1);
		assert.deepEqual(screen.commands(), [], 'quitting is the quit callback\'s job, not admin calls');
	});

	it('n keeps it running, and q asks again', async () => {
		const screen = await open({models: sampleFleet});
		await screen.press('q', 'n');
		assert.equal(screen.statusLine(), '');
		assert.equal(screen.quits, 0);
		await screen.press('q');
		assert.match(screen.statusLine(), /^Quit and stop /);
	});

	it('says nothing of SLURM when no job runs', async () => {
		const screen = await open({models: now => [models.ready('mistral-7b', {readyAt: now - 1000}), models.stopped('qwen3-8b')]});
		await screen.press('q');
		assert.equal(screen.statusLine(), 'Quit and stop mistral-7b? [y/N]');
	});

	it('quits at once when nothing runs (a static backend is not switchboard\'s to stop)', async () => {
		const screen = await open({models: () => [models.stopped('qwen3-8b'), models.failed('gemma-9b', 'exited'), models.static('embedder', 'http://127.0.0.1:9000')]});
		await screen.press('q');
		assert.equal(screen.quits, 1);
	});

	it('attached to another switchboard, quits at once: it stops nothing', async () => {
		const screen = await open({models: sampleFleet, remote: true, attachedTo: 'http://127.0.0.1:8080'});
		await screen.press('q');
		assert.equal(screen.quits, 1);
	});

	it('says what it does while it stops the models, and takes no more keys', async () => {
		let done: (() => void) | undefined;
		const screen = await open({
			models: sampleFleet,
			quit: async () => new Promise<void>(resolve => {
				done = resolve;
			}),
		});
		await screen.press('q', 'y');
		assert.equal(screen.statusLine(), 'Stopping every model, then quitting… (Ctrl-C again leaves them to the reaper)');
		await screen.press('s', 'x', 'y', 'q');
		assert.deepEqual(screen.commands(), []);
		assert.equal(screen.quits, 1);
		done!();
	});

	it('Ctrl-C quits without asking', async () => {
		const screen = await open({models: sampleFleet});
		await screen.press('\u0003');
		assert.equal(screen.quits, 1);
	});
});
