/**
 * Makes the README's screenshots from a real run: `switchboard demo` in a tmux session of its own
 * (a fake nvidia-smi with six GPUs on PATH, so the GPU strip shows), captured with colours and
 * rendered to SVG by terminal-svg.ts. Run after a build:
 *
 *   npx tsc -p . && node --import tsx scripts/screenshots.ts
 */
import {execFileSync, spawnSync} from 'node:child_process';
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const socket = `switchboard-screenshots-${process.pid}`;
const scratch = mkdtempSync(path.join(os.tmpdir(), 'switchboard-screenshots-'));
const gpus = path.join(scratch, 'gpus.csv');
writeFileSync(gpus, [
	'0, NVIDIA A100-SXM4-80GB, 31, 20480, 81920',
	'1, NVIDIA A100-SXM4-80GB, 64, 71234, 81920',
	'2, NVIDIA A100-SXM4-80GB, 58, 71190, 81920',
	'3, NVIDIA A100-SXM4-80GB, 92, 73008, 81920',
	'4, NVIDIA A100-SXM4-80GB, 0, 4, 81920',
	'5, NVIDIA A100-SXM4-80GB, 0, 4, 81920',
].join('\n') + '\n');

const tmux = (...args: string[]) => execFileSync('tmux', ['-L', socket, ...args], {encoding: 'utf8'});
const sleep = async (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

async function shot(name: string, title: string): Promise<void> {
	const capture = path.join(scratch, `${name}.txt`);
	writeFileSync(capture, tmux('capture-pane', '-e', '-p'));
	const svg = execFileSync(process.execPath, ['--import', 'tsx', path.join(root, 'scripts/terminal-svg.ts'), capture, title], {encoding: 'utf8'});
	writeFileSync(path.join(root, 'media', `${name}.svg`), svg);
	console.log(`media/${name}.svg`);
}

try {
	// Through env(1): tmux's own -e does not reach the first command's PATH.
	tmux('new-session', '-d', '-x', '132', '-y', '36', '--', 'env', `PATH=${path.join(root, 'test/fixtures/bin')}:${process.env['PATH']}`, `FAKE_NVIDIA_SMI=${gpus}`,
		process.execPath, path.join(root, 'dist/cli.js'), 'demo', '--port', '0');
	// Long enough for the fast models, the replicas and a few rounds of load.
	await sleep(25_000);
	await shot('console', 'switchboard demo: the console (npm start)');
	tmux('send-keys', 'j');
	await sleep(300);
	tmux('send-keys', 'j');
	await sleep(300);
	tmux('send-keys', 'Enter');
	await sleep(1500);
	await shot('console-detail', 'enter: the selected replica, its last minutes and its log');
	tmux('send-keys', 'Enter');
	tmux('resize-window', '-x', '80', '-y', '24');
	await sleep(1500);
	await shot('console-80x24', 'the same at 80x24');
	tmux('send-keys', 'q');
	await sleep(500);
	await shot('console-quit', 'q asks before it stops running models');
	tmux('send-keys', 'y');
	await sleep(5000);
} finally {
	spawnSync('tmux', ['-L', socket, 'kill-server']);
	rmSync(scratch, {recursive: true, force: true});
}
