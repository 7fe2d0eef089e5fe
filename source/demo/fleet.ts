import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {defaultLocalModel, defaultReplicas} from '../config/defaults.js';
import {configFromFlags, type RunFlags} from '../config/flags.js';
import type {Config, ModelConfig} from '../config/types.js';

/** One simulated model of the demo: what it is called, how `switchboard sim` plays it, and its share of the load. */
export interface DemoModel {
	name: string;
	/** What it shows a newcomer. */
	role: string;
	/** `switchboard sim` flags besides --model. */
	sim: string[];
	/** Its share of the synthetic load, relative to the others. */
	weight: number;
	/** Requests it serves at once: the simulator's --max-num-seqs and switchboard's capacity, so utilisation means something. */
	capacity: number;
	settings: Partial<ModelConfig>;
}

/**
 * GPUs of its own, as on a real node: switchboard sets each replica's CUDA_VISIBLE_DEVICES (the
 * simulator ignores it), and on a machine with nvidia-smi the console shows who holds which.
 */
const gpus = (ids: string[], perReplica: number): Pick<ModelConfig, 'gpus' | 'gpusPerReplica'> => ({gpus: ids, gpusPerReplica: perReplica});

const second = 1000;
const minute = 60 * second;

export const demoModels: readonly DemoModel[] = [
	{
		name: 'qwen3-0.6b',
		role: 'small and fast, started with switchboard and never stopped',
		sim: ['--startup-delay', '1.5', '--token-rate', '60', '--ttft', '80'],
		weight: 5,
		capacity: 8,
		// Something is ready within seconds of `npm start`.
		settings: {idleTimeoutMs: 0, ...gpus(['0'], 1)},
	},
	{
		name: 'llama-3.1-8b',
		role: 'two replicas that share its requests',
		sim: ['--startup-delay', '4', '--token-rate', '30', '--ttft', '200'],
		weight: 4,
		capacity: 4,
		settings: {idleTimeoutMs: 5 * minute, replicas: {...defaultReplicas, min: 2, max: 2}, ...gpus(['1', '2'], 1)},
	},
	{
		name: 'flaky-7b',
		role: 'answers about one request in ten with an error and crashes after 40; switchboard restarts it',
		sim: ['--startup-delay', '3', '--token-rate', '40', '--ttft', '150', '--error-rate', '0.1', '--exit-after', '40'],
		weight: 2,
		capacity: 4,
		// It crashes every two or three minutes under the demo's load: five within a shorter window would mark it failed for good.
		settings: {idleTimeoutMs: 3 * minute, crashWindowMs: 3 * minute, ...gpus(['3'], 1)},
	},
	{
		name: 'qwen3-32b',
		role: 'slow to load (18 s): requests wait for it, and it stops again when left idle',
		sim: ['--startup-delay', '18', '--token-rate', '12', '--ttft', '600'],
		// About one request a minute: it starts, serves a few, and often goes idle before the next.
		weight: 0.1,
		capacity: 2,
		settings: {idleTimeoutMs: 2 * minute, ...gpus(['4', '5'], 2)},
	},
];

/** Started as soon as the demo runs rather than on its first request. */
export const readyAtOnce = 'qwen3-0.6b';

/** The switchboard binary the demo's backends run, `switchboard sim`: this very build. */
const cliPath = fileURLToPath(new URL('../cli.js', import.meta.url));
const simCommand = [process.execPath, cliPath, 'sim'];

/**
 * The demo's fleet: the [server] settings come from the flags, checked as for any run, with the logs
 * and operator choices in `scratchDir` unless --log-dir or --state-dir say where; the models are
 * the demo's own, each a `switchboard sim` run by the local launcher as real vLLM would be.
 * POST /switch starts simulators too unless --switch-command says otherwise.
 */
export function demoConfig(flags: RunFlags, scratchDir: string, env: NodeJS.ProcessEnv = process.env): Config {
	const base = configFromFlags({
		...flags,
		logDir: flags.logDir ?? path.join(scratchDir, 'logs'),
		stateDir: flags.stateDir ?? path.join(scratchDir, 'state'),
	}, [...simCommand, '--model', 'demo'], env);
	const model = ({name, sim, capacity, settings}: DemoModel): ModelConfig => {
		const command = [...simCommand, '--model', name, '--max-num-seqs', String(capacity), ...sim];
		return {...defaultLocalModel(name, name, command), capacity, ...settings};
	};

	return {
		...base,
		server: {...base.server, switchCommand: flags.switchCommand === undefined ? [...simCommand] : base.server.switchCommand},
		models: demoModels.map(demoModel => model(demoModel)),
		defaults: {...defaultLocalModel('', undefined, []), idleTimeoutMs: 5 * minute},
	};
}
