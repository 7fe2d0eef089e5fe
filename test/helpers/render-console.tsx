/** @jsxRuntime automatic */
// (tsx applies tsconfig.json's "jsx": "react-jsx" only to the files it includes, source/: the pragma says it here.)
// First: before ink loads chalk.
import './force-color.js';
import {stripVTControlCharacters} from 'node:util';
import {afterEach} from 'node:test';
import {render} from 'ink-testing-library';
import {App} from '../../source/ui/app.js';
import {ConsoleStore} from '../../source/ui/state/console-store.js';
import {ColorContext} from '../../source/ui/theme.js';
import {FakeLink, type FakeModel} from './console-link.js';
import {FakeClock, settle} from './fake-clock.js';

export const keys = {
	up: '\u001B[A',
	down: '\u001B[B',
	pageUp: '\u001B[5~',
	pageDown: '\u001B[6~',
	enter: '\r',
	escape: '\u001B',
	tab: '\t',
	backspace: '\u007F',
} as const;

export interface RenderOptions {
	/** The fleet, given the fake clock's time (ms). */
	models?: (now: number) => FakeModel[];
	remote?: boolean;
	color?: boolean;
	columns?: number;
	rows?: number;
	attachedTo?: string;
	/** switchboard's own log lines already written when the console opens. */
	ownLog?: string[];
	/** What quitting does; by default it is done at once. */
	quit?: () => Promise<void>;
}

/** The frame interval the tests run the store with (and advance the clock by). */
const frameMs = 100;

/**
 * The console as a user sees it: App on a store reading a FakeLink, drawn by ink-testing-library
 * into a terminal of `columns`×`rows`, moved by a fake clock.
 */
export async function renderConsole(options: RenderOptions = {}) {
	const clock = new FakeClock();
	const link = new FakeLink({remote: options.remote, startedAt: clock.now() - 3_723_000});
	link.models = options.models?.(clock.now()) ?? [];
	link.ownLog = options.ownLog ?? [];
	const store = new ConsoleStore(link, {clock, frameMs});
	let quits = 0;
	const quit = async () => {
		quits++;
		await options.quit?.();
	};

	store.start();
	const ink = render(
		<ColorContext.Provider value={options.color ?? true}>
			<App store={store} clock={clock} quit={quit} attachedTo={options.attachedTo}/>
		</ColorContext.Provider>,
	);
	const screen = {
		link,
		clock,
		store,
		/** Resizes the terminal, as a terminal does: new sizes, then a `resize` event. */
		async resize(columns: number, rows: number): Promise<void> {
			Object.defineProperty(ink.stdout, 'columns', {value: columns, configurable: true});
			Object.defineProperty(ink.stdout, 'rows', {value: rows, configurable: true});
			ink.stdout.emit('resize');
			await settle();
		},
		get quits() {
			return quits;
		},
		/** The last frame as written, colours and all. */
		raw(): string {
			return ink.lastFrame() ?? '';
		},
		/** The last frame as a user reads it: its text, without colours or the spaces that end a line. */
		frame(): string {
			return stripVTControlCharacters(ink.lastFrame() ?? '').split('\n').map(line => line.trimEnd()).join('\n');
		},
		lines(): string[] {
			return screen.frame().split('\n');
		},
		/** The table's line of `model` (the first, for a model with several backends). */
		row(model: string): string | undefined {
			return screen.lines().find(line => line.startsWith(`${model} `));
		},
		/** The model of the row shown inverse, the one keys act on; undefined while the table has not the keys. */
		selected(): string | undefined {
			const index = (ink.lastFrame() ?? '').split('\n').findIndex(line => line.includes('\u001B[7m'));
			return index === -1 ? undefined : /^\S+/.exec(screen.lines()[index]!)?.[0];
		},
		/** The line above the keys: dialogs, toasts. */
		statusLine(): string {
			return screen.lines().at(-2) ?? '';
		},
		/** Types each key in turn (a string of several characters arrives as one chunk, as a paste does), then lets a frame draw. */
		async press(...typed: string[]): Promise<void> {
			for (const key of typed) {
				ink.stdin.write(key);
				// An escape alone is told from the start of a sequence on the next turn of the event loop.
				await settle();
				await clock.advance(frameMs);
			}
		},
		/** Lets what the test just did (events, replies) take its course, then `ms` of fake time pass (reads, frames, countdowns). */
		async wait(ms: number): Promise<void> {
			await settle();
			await clock.advance(ms);
		},
		/** Commands sent so far, as `METHOD path body`. */
		commands(): string[] {
			return link.sent.map(({method, path, body}) => `${method} ${path}${body === undefined ? '' : ` ${JSON.stringify(body)}`}`);
		},
		close(): void {
			ink.unmount();
			store.close();
		},
	};
	// ink-testing-library's terminal is 100 columns and has no rows: size it as a terminal would be.
	await screen.resize(options.columns ?? 100, options.rows ?? 24);
	// The first reads have answered: their frame draws.
	await clock.advance(frameMs);
	return screen;
}

export type ConsoleScreen = Awaited<ReturnType<typeof renderConsole>>;

/**
 * renderConsole for the tests of one file: each test's console is closed after it. `defaults` are
 * the file's usual options, which a test's own override.
 */
export function consoleScreens(defaults: () => RenderOptions = () => ({})): (options?: RenderOptions) => Promise<ConsoleScreen> {
	let screen: ConsoleScreen | undefined;
	afterEach(() => {
		screen?.close();
		screen = undefined;
	});
	return async (options = {}) => {
		screen = await renderConsole({...defaults(), ...options});
		return screen;
	};
}
