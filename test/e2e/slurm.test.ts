import assert from 'node:assert/strict';
import {execFileSync} from 'node:child_process';
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {after, afterEach, before, describe, it} from 'node:test';
import OpenAI from 'openai';
import {slurmCluster} from '../helpers/slurm-cluster.js';
import {cliPath, SwitchboardProcess, until} from '../helpers/switchboard-process.js';

/*
 * Against a real single-node SLURM cluster and a real sshd on 127.0.0.1, which the test setup
 * installs and starts (scripts/slurm-local). The node has one (fake) GPU: a job asking for
 * gpu:1 waits while another holds it.
 */

const cluster = await slurmCluster();
const skip = cluster.ready ? false : cluster.reason;

interface JobStatus {
	id: string | null;
	name: string;
	state: string;
	reason: string | null;
	node: string | null;
}

interface ModelStatus {
	name: string;
	state: string;
	reason: string | null;
	replicas: Array<{state: string; url: string | null; job: JobStatus | null}>;
}

const running: SwitchboardProcess[] = [];
/** Every job id a test saw, cancelled at the end whatever happened. */
const jobs = new Set<string>();

/** Each test's switchboards stop (and cancel their jobs) before the next test: the node has one GPU. */
async function stopAll(): Promise<void> {
	await Promise.all(running.splice(0).map(async switchboard => switchboard.stop()));
}

afterEach(stopAll);

after(async () => {
	await stopAll();
	if (jobs.size > 0 && cluster.ready) {
		execFileSync('scancel', [...jobs]);
	}
});

const simArgs = (...flags: string[]) => [process.execPath, cliPath, 'sim', '--model', 'm', '--startup-delay', '1', ...flags];

function configFile(model: string, server = ''): {file: string; stateDir: string} {
	const directory = mkdtempSync(path.join(os.tmpdir(), 'switchboard-slurm-'));
	const file = path.join(directory, 'switchboard.toml');
	writeFileSync(file, `[server]\nslurm_poll = "300ms"\n${server}\n[[models]]\nname = "m"\nlauncher = "slurm"\ncommand = ${JSON.stringify(simArgs())}\n${model}\n`);
	return {file, stateDir: directory};
}

async function start(flags: string[], command: string[] = []): Promise<{switchboard: SwitchboardProcess; openai: OpenAI; status: () => Promise<ModelStatus>}> {
	const switchboard = await SwitchboardProcess.start(flags, command);
	running.push(switchboard);
	const openai = new OpenAI({baseURL: `${switchboard.url}/v1`, apiKey: 'none', maxRetries: 0});
	const status = async () => {
		const body = await (await fetch(`${switchboard.url}/status`)).json() as {models: ModelStatus[]};
		const model = body.models[0]!;
		for (const replica of model.replicas) {
			if (replica.job?.id) {
				jobs.add(replica.job.id);
			}
		}

		return model;
	};

	return {switchboard, openai, status};
}

async function chat(openai: OpenAI): Promise<string> {
	const reply = await openai.chat.completions.create({model: 'm', messages: [{role: 'user', content: 'hello'}], max_tokens: 5});
	return reply.choices[0]!.message.content ?? '';
}

/** squeue's state of a job, or undefined once it has left the queue for good. */
function jobState(id: string): string | undefined {
	const state = execFileSync('squeue', ['-h', '-t', 'all', '-j', id, '-o', '%T'], {encoding: 'utf8'}).trim();
	return state === '' ? undefined : state;
}

const gone = (id: string) => ['CANCELLED', 'COMPLETED', undefined].includes(jobState(id));

describe('SLURM launcher', {skip}, () => {
	before(() => {
		assert.ok(cluster.ready);
	});

	it('starts a model as an sbatch job on the first request, serves it directly, and cancels the job when idle', async () => {
		const {file} = configFile('host = "127.0.0.1"\nidle_timeout = "3s"\nsbatch_args = { gres = "gpu:1", mem = "200M", time = "10:00" }');
		const {openai, status} = await start(['--config', file]);
		assert.equal((await status()).state, 'stopped', 'nothing is submitted before a request');
		assert.ok((await chat(openai)).length > 0);
		const model = await status();
		const {job} = model.replicas[0]!;
		assert.equal(model.state, 'ready');
		assert.equal(job?.state, 'RUNNING');
		assert.equal(job?.node, cluster.ready && cluster.node);
		assert.match(job?.name ?? '', /^switchboard-m-/);
		const stream = await openai.chat.completions.create({model: 'm', messages: [{role: 'user', content: 'hello'}], max_tokens: 5, stream: true});
		let chunks = 0;
		for await (const _chunk of stream) {
			chunks++;
		}

		assert.ok(chunks > 1, 'streamed chunk by chunk');
		await until(async () => (await status()).state === 'stopped', 20_000, 'the idle timeout');
		await until(() => gone(job!.id!), 10_000, 'the job to leave squeue');
	});

	it('shows the job queued with its pending reason while the GPU is busy, and serves once it runs', async () => {
		const blocker = execFileSync('sbatch', ['--parsable', '--gres=gpu:1', '--mem=50M', '--job-name=test-blocker', '-o', '/dev/null', '--wrap', 'sleep 300'], {encoding: 'utf8'}).trim();
		jobs.add(blocker);
		await until(() => jobState(blocker) === 'RUNNING', 10_000, 'the blocker to run');
		try {
			const {file} = configFile('host = "127.0.0.1"\nsbatch_args = { gres = "gpu:1", mem = "200M" }');
			const {openai, status} = await start(['--config', file]);
			const reply = chat(openai);
			// Right after submission squeue may give no reason yet; the scheduler's comes within a poll or two.
			await until(async () => (await status()).replicas[0]?.job?.reason === 'Resources', 10_000, 'the job to wait for Resources');
			const queued = await status();
			assert.equal(queued.state, 'loading');
			assert.equal(queued.replicas[0]!.state, 'queued');
			assert.equal(queued.replicas[0]!.job?.state, 'PENDING');
			execFileSync('scancel', [blocker]);
			assert.ok((await reply).length > 0, 'the held request is served once the job runs');
			assert.equal((await status()).replicas[0]!.job?.state, 'RUNNING');
		} finally {
			execFileSync('scancel', [blocker]);
		}
	});

	it('reaches a job through an SSH reverse tunnel', async () => {
		const {file} = configFile(`sbatch_args = { gres = "gpu:1", mem = "200M" }\nloopback_user = "root"\nloopback_host = "127.0.0.1"\nloopback_ssh_port = ${cluster.ready ? cluster.sshPort : 2222}`);
		const {openai, status} = await start(['--config', file]);
		assert.ok((await chat(openai)).length > 0);
		const model = await status();
		assert.match(model.replicas[0]!.url ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
	});

	it('stops a model whose job was cancelled from outside, and starts a new job on the next request', async () => {
		const {file} = configFile('host = "127.0.0.1"\nsbatch_args = { gres = "gpu:1", mem = "200M" }');
		const {openai, status} = await start(['--config', file]);
		await chat(openai);
		const first = (await status()).replicas[0]!.job!.id!;
		execFileSync('scancel', [first]);
		await until(async () => (await status()).state === 'stopped', 15_000, 'switchboard to see the job gone');
		assert.match((await status()).reason ?? '', new RegExp(`SLURM job ${first}\\) was cancelled while serving`));
		assert.ok((await chat(openai)).length > 0);
		const second = (await status()).replicas[0]!.job!.id!;
		assert.notEqual(second, first);
	});

	it('takes over its running job after being killed with SIGKILL, without loading the model again', async () => {
		const {file, stateDir} = configFile('host = "127.0.0.1"\nsbatch_args = { gres = "gpu:1", mem = "200M" }');
		const flags = ['--config', file, '--state-dir', stateDir];
		const first = await start(flags);
		await chat(first.openai);
		const job = (await first.status()).replicas[0]!.job!.id!;
		first.switchboard.child.kill('SIGKILL');
		await first.switchboard.exited;
		assert.equal(jobState(job), 'RUNNING', 'the job outlives switchboard');
		const second = await start(flags);
		await second.switchboard.waitFor(line => String(line.msg).includes(`taking over SLURM job ${job}`));
		await until(async () => (await second.status()).state === 'ready', 10_000, 'the job taken over to be ready');
		assert.equal((await second.status()).replicas[0]!.job?.id, job, 'the same job, not a new one');
		assert.ok((await chat(second.openai)).length > 0);
		await second.switchboard.stop();
		await until(() => gone(job), 10_000, 'the job to be cancelled at shutdown');
	});

	it('cancels the job of a switchboard killed with SIGKILL that nobody restarts, once its idle timeout has passed', async () => {
		const {file} = configFile('host = "127.0.0.1"\nidle_timeout = "2s"\nsbatch_args = { gres = "gpu:1", mem = "200M" }');
		const {switchboard, openai, status} = await start(['--config', file]);
		await chat(openai);
		const job = (await status()).replicas[0]!.job!.id!;
		switchboard.child.kill('SIGKILL');
		await switchboard.exited;
		assert.equal(jobState(job), 'RUNNING', 'not at once: a restarted switchboard could take it over');
		await until(() => gone(job), 15_000, 'the reaper to cancel the orphaned job');
	});

	it('runs llm-proxy-ondemand\'s command line: --use-slurm --srun-cmd … --loopback-user … --loopback-host … -- <command>', async () => {
		const {openai, status, switchboard} = await start(['--use-slurm', '--srun-cmd', 'srun --mem=100M --gres=gpu:1', '--loopback-user', 'root', '--loopback-host', '127.0.0.1'], simArgs());
		assert.ok((await chat(openai)).length > 0);
		const model = await status();
		assert.equal(model.replicas[0]!.job?.state, 'RUNNING');
		const {log_path: logPath} = (await (await fetch(`${switchboard.url}/status`)).json() as {models: Array<{log_path: string}>}).models[0]!;
		assert.match(readFileSync(logPath, 'utf8'), /opening the tunnel root@127\.0\.0\.1:\d+ -> /);
	});

	it('says why llm-proxy-ondemand\'s default srun command cannot run on a node without 30 GB', async () => {
		const {openai} = await start(['--use-slurm', '--loopback-user', 'root', '--loopback-host', '127.0.0.1'], simArgs());
		await assert.rejects(chat(openai), (error: {status: number; message: string}) => {
			assert.equal(error.status, 503);
			assert.match(error.message, /srun: error: .*(Memory specification|Requested node configuration)/);
			return true;
		});
	});

	it('says why a job cannot run: a request SLURM refuses, a tunnel ssh refuses', async () => {
		const refused = await start(['--config', configFile('sbatch_args = { gres = "gpu:8" }').file]);
		await assert.rejects(chat(refused.openai), (error: {status: number; message: string}) => {
			assert.equal(error.status, 503);
			// sbatch refuses it at once, or accepts it and the scheduler fails it.
			assert.match(error.message, /could not be submitted to SLURM: .*Requested node configuration is not available|\(SLURM job \d+\) failed \(BadConstraints\)/);
			return true;
		});
		const wrongUser = await start(['--config', configFile('sbatch_args = { gres = "gpu:1", mem = "200M" }\nloopback_user = "nobody"\nloopback_host = "127.0.0.1"\nloopback_ssh_port = 2222').file]);
		await assert.rejects(chat(wrongUser.openai), (error: {status: number; message: string}) => {
			assert.equal(error.status, 503);
			assert.match(error.message, /Permission denied/);
			assert.match(error.message, /the SSH tunnel to nobody@127\.0\.0\.1 \(port 2222\) ended/);
			return true;
		});
	});
});
