/**
 * What the SLURM launcher relies on, checked on the real local cluster as a user sees it: batch jobs
 * start and serve on their node, a GPU job waits while the fake GPU is taken, squeue finds jobs by
 * name, scancel ends them with their processes, and `ssh -N -R` from a job forwards to 127.0.0.1.
 */
import assert from 'node:assert/strict';
import {execFile} from 'node:child_process';
import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {after, it} from 'node:test';
import {promisify} from 'node:util';
import {describeWithSlurm} from '../helpers/slurm-cluster.js';
import {until} from '../helpers/switchboard-process.js';
import {unusedPort} from '../helpers/ports.js';

const run = promisify(execFile);
const output = async (command: string, ...args: string[]) => (await run(command, args)).stdout.trim();

/** The body of a GET, or undefined when nothing answers. */
async function get(url: string): Promise<string | undefined> {
	try {
		return await (await fetch(url, {signal: AbortSignal.timeout(2000)})).text();
	} catch {
		return undefined;
	}
}

await describeWithSlurm('the local SLURM cluster, as the SLURM launcher uses it', cluster => {
	const directory = mkdtempSync(path.join(os.tmpdir(), 'slurm-cluster-test-'));
	const names = `switchboard-test-${process.pid}`;
	const jobs: string[] = [];
	const server = path.join(directory, 'server.mjs');
	writeFileSync(server, `import http from 'node:http';
const [port, text] = process.argv.slice(2);
http.createServer((request, response) => response.end(text)).listen(Number(port), '127.0.0.1');
`);

	after(async () => {
		if (jobs.length > 0) {
			await run('scancel', jobs);
		}

		rmSync(directory, {recursive: true, force: true});
	});

	/** A job's batch script line: an HTTP server answering `text` on 127.0.0.1:`port`. */
	const serve = (port: number, text: string) => `'${process.execPath}' '${server}' ${port} '${text}'`;

	/** Submits `script`; the time limit ends the job should this test be killed before it cancels it. */
	async function sbatch(name: string, script: string, ...flags: string[]): Promise<string> {
		const file = path.join(directory, `${name}.sh`);
		writeFileSync(file, `#!/bin/bash\n${script}\n`);
		const id = await output('sbatch', '--parsable', `--job-name=${names}-${name}`, `--output=${directory}/%j.out`, '--time=2', ...flags, file);
		jobs.push(id);
		return id;
	}

	const state = async (id: string) => output('squeue', '--jobs', id, '--states=all', '--noheader', '--format=%T %r');

	/** Waits for `condition`; on timeout the error carries the job's output and the queue (another user's GPU job, say). */
	async function waitFor(id: string, what: string, condition: () => Promise<boolean>): Promise<void> {
		try {
			await until(condition, 20_000, what);
		} catch (error) {
			const file = path.join(directory, `${id}.out`);
			const jobOutput = existsSync(file) ? readFileSync(file, 'utf8') : '';
			const queue = await output('squeue', '--format=%i %j %T %r %b');
			throw new Error(`${String(error)}; job ${id} is '${await state(id)}', its output: ${jobOutput || '(none)'}\nsqueue:\n${queue}`);
		}
	}

	it('runs a job on the GPU, keeps a second GPU job pending for Resources, lists both by name, and cancels them', async t => {
		const port = await unusedPort();
		const submitted = performance.now();
		const holder = await sbatch('gpu-a', `exec ${serve(port, 'from the job')}`, '--gres=gpu:1');
		await waitFor(holder, 'the first job to run', async () => (await state(holder)).startsWith('RUNNING'));
		t.diagnostic(`sbatch → RUNNING in ${Math.round(performance.now() - submitted)} ms`);

		const node = await output('squeue', '--jobs', holder, '--noheader', '--format=%N');
		assert.equal(node, cluster.node);
		const address = /NodeAddr=(\S+)/.exec(await output('scontrol', 'show', 'node', node))?.[1];
		assert.equal(address, '127.0.0.1');
		await waitFor(holder, 'its HTTP server', async () => (await get(`http://${address}:${port}/`)) === 'from the job');

		const waiting = await sbatch('gpu-b', 'exec sleep 600', '--gres=gpu:1');
		await waitFor(waiting, 'the second GPU job to wait for Resources', async () => (await state(waiting)) === 'PENDING Resources');

		const both = `--name=${names}-gpu-a,${names}-gpu-b`;
		const listed = await output('squeue', both, '--states=all', '--noheader', '--format=%i %j %T %r');
		assert.deepEqual(listed.split('\n').sort(), [`${holder} ${names}-gpu-a RUNNING None`, `${waiting} ${names}-gpu-b PENDING Resources`].sort());

		await run('scancel', [waiting, holder]);
		await until(async () => (await output('squeue', both, '--noheader', '--format=%i')) === '', 10_000, 'both jobs to leave squeue');
		assert.deepEqual((await output('squeue', both, '--states=all', '--noheader', '--format=%T')).split('\n'), ['CANCELLED', 'CANCELLED']);
		assert.equal(await get(`http://${address}:${port}/`), undefined, 'the cancelled job\'s server is gone');
	});

	for (const sshPort of [cluster.sshPort, undefined]) {
		const via = sshPort === undefined ? 'port 22, ssh\'s default' : `port ${sshPort}`;
		it(`forwards HTTP from a job to 127.0.0.1 through ssh -N -R, ${via}`, async t => {
			if (sshPort === undefined && !cluster.defaultSshPortWorks) {
				const reason = 'ssh root@127.0.0.1 without -p does not reach this cluster\'s sshd (port 22 belongs to another server)';
				if (process.env['CI'] === 'true') {
					assert.fail(reason);
				}

				t.skip(reason);
				return;
			}

			const [jobPort, tunnelPort] = [await unusedPort(), await unusedPort()];
			const portFlag = sshPort === undefined ? '' : `-p ${sshPort}`;
			const submitted = performance.now();
			const id = await sbatch(`tunnel-${sshPort ?? 22}`, `${serve(jobPort, 'through the tunnel')} &
exec ssh -N -o BatchMode=yes -o ExitOnForwardFailure=yes -o StrictHostKeyChecking=accept-new ${portFlag} -R ${tunnelPort}:127.0.0.1:${jobPort} ${cluster.user}@127.0.0.1`);
			const tunnel = `http://127.0.0.1:${tunnelPort}/`;
			await waitFor(id, 'an answer through the tunnel', async () => (await get(tunnel)) === 'through the tunnel');
			t.diagnostic(`sbatch → answer through the tunnel in ${Math.round(performance.now() - submitted)} ms`);

			await run('scancel', [id]);
			await until(async () => (await get(tunnel)) === undefined && (await get(`http://127.0.0.1:${jobPort}/`)) === undefined, 10_000, 'the tunnel and the job\'s server to close');
		});
	}
});
