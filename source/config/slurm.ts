import os from 'node:os';
import {parseSlurmDuration} from '../launchers/slurm/slurm-time.js';
import {formatDuration} from '../util/duration.js';
import {defaultLoopbackSshPort, defaultModelSettings, directSlurmHost} from './defaults.js';
import type {ModelSettings} from './schema.js';
import type {SlurmConfig} from './types.js';
import type {Reading} from './values.js';

/*
 * The settings of a `slurm` model: how its jobs are submitted (sbatch_args or srun_command) and
 * how switchboard reaches them (directly, or through the SSH tunnel a job opens back to it).
 * The file and the flags resolve them here, so both default and refuse them alike.
 */

/** The keys that apply to slurm models only, in the order the README lists them. */
export const slurmKeys = ['sbatch_args', 'srun_command', 'reach', 'loopback_user', 'loopback_host', 'loopback_ssh_port', 'renew_before'] as const;

type SlurmKey = typeof slurmKeys[number];

/** A slurm model's keys as one table sets them: a [[models]] entry or [defaults]. */
export type SlurmSettings = Pick<ModelSettings, SlurmKey>;

/** Where a problem is, as the user looks for it: `models "a".reach`, `defaults.sbatch_args.time`. */
type KeyPath = (...keys: string[]) => string;

export const srunCommandExpected = 'an srun command such as "srun --mem=30G --gres=gpu:1" or ["srun", "--mem=30G", "--gres=gpu:1"]';

export const slurmTimeExpected = 'a time limit as sbatch --time reads it, such as "90" (minutes), "4:00:00" (hours:minutes:seconds) or "1-00:00:00" (days-hours:minutes:seconds)';

/** sbatch's --time in ms; 0 (also "UNLIMITED" and "INFINITE") is no limit. */
export function readSlurmTime(text: string): Reading<number> {
	if (/^(?:unlimited|infinite)$/i.test(text)) {
		return {value: 0};
	}

	const ms = parseSlurmDuration(text);
	return ms === undefined ? {expected: slurmTimeExpected} : {value: ms};
}

export const slurmMemoryExpected = 'memory as sbatch --mem reads it, such as "30G" or "512M" (a bare number is megabytes)';

export function readSlurmMemory(text: string): Reading<string> {
	return /^\d+[KMGT]?$/i.test(text) ? {value: text} : {expected: slurmMemoryExpected};
}

/** The login name the tunnel uses unless loopback_user says: $USER, $LOGNAME, else the account's name. */
export function currentUser(env: NodeJS.ProcessEnv): string | undefined {
	const named = env['USER'] || env['LOGNAME'];
	if (named) {
		return named;
	}

	try {
		return os.userInfo().username || undefined;
	} catch {
		// A uid without a passwd entry (containers started with --user) has no name.
		return undefined;
	}
}

/**
 * How a model's jobs are submitted. sbatch_args and srun_command are two ways of doing one thing, so
 * a model that names either replaces what [defaults] says whole; sbatch_args of both merge key by
 * key (as env does), so [defaults] can name the account while each model asks for its GPUs.
 */
function submission(own: SlurmSettings, inherited: SlurmSettings): Pick<SlurmConfig, 'sbatch' | 'srunCommand'> {
	const srunCommand = own.srun_command ?? (own.sbatch_args === undefined ? inherited.srun_command : undefined);
	const args = srunCommand === undefined ? {...inherited.sbatch_args, ...own.sbatch_args} : {};
	return {
		sbatch: {partition: args.partition, gres: args.gres, mem: args.mem, time: args.time, qos: args.qos, account: args.account, extra: args.extra ?? []},
		srunCommand,
	};
}

/**
 * A slurm model's SlurmConfig from its own keys over the inherited ones. Reach is "tunnel" when a
 * loopback_host is set, else "direct". A tunnel whose user cannot be found is left undefined, for
 * slurmProblems to refuse.
 */
export function resolveSlurm(own: SlurmSettings, inherited: SlurmSettings, env: NodeJS.ProcessEnv): SlurmConfig {
	const setting = <Key extends SlurmKey>(key: Key): SlurmSettings[Key] => own[key] ?? inherited[key];
	const host = setting('loopback_host');
	const reach = setting('reach') ?? (host === undefined ? 'direct' : 'tunnel');
	const user = reach === 'tunnel' ? setting('loopback_user') ?? currentUser(env) : undefined;
	return {
		...submission(own, inherited),
		reach,
		tunnel: host === undefined || user === undefined ? undefined : {user, host, sshPort: setting('loopback_ssh_port') ?? defaultLoopbackSshPort},
		renewBeforeMs: setting('renew_before') ?? 0,
	};
}

/**
 * The interface a model's backend binds to when `host` is not set: a job reached directly must be
 * reachable from switchboard's machine; anything else (local, or a tunnel's end) stays on loopback.
 */
export function defaultBackendHost(slurm: SlurmConfig | undefined): string {
	return slurm?.reach === 'direct' ? directSlurmHost : defaultModelSettings.host;
}

const loopbackHostNeeded = 'this machine\'s address as the compute nodes reach it, such as loopback_host = "10.10.10.5"';

/**
 * What one table's keys contradict, with `inherited` filling in what it leaves out: [defaults] alone
 * (inherited empty), or a model's entry over [defaults]. Checked where the keys are written, so a
 * contradiction of [defaults] is named once rather than under every model.
 */
export function slurmContradictions(own: SlurmSettings, inherited: SlurmSettings, at: KeyPath): string[] {
	const problems: string[] = [];
	if (own.srun_command !== undefined && own.sbatch_args !== undefined) {
		problems.push(`${at('srun_command')} and sbatch_args are two ways to run a model's jobs; set one: srun_command runs each under srun, sbatch_args submits each with sbatch.`);
	}

	if (own.reach === 'tunnel' && (own.loopback_host ?? inherited.loopback_host) === undefined) {
		problems.push(`${at('reach')} "tunnel" needs loopback_host, the host the job opens its SSH tunnel to: ${loopbackHostNeeded}; set it, or reach = "direct".`);
	}

	const renewBeforeMs = own.renew_before ?? inherited.renew_before ?? 0;
	const {time} = submission(own, inherited).sbatch;
	const limitMs = timeLimitMs(time);
	const written = own.renew_before !== undefined || own.sbatch_args?.time !== undefined;
	if (written && renewBeforeMs > 0 && limitMs > 0 && renewBeforeMs >= limitMs) {
		const timeOrigin = own.sbatch_args?.time === undefined ? ' (from defaults.sbatch_args.time)' : '';
		problems.push(`${at('renew_before')} ${formatDuration(renewBeforeMs)}${origin(own, 'renew_before')} is not shorter than the jobs' time limit, sbatch_args.time ${JSON.stringify(time)}${timeOrigin}: each job would be renewed as soon as it is ready; lower renew_before or raise the time limit.`);
	}

	return problems;
}

/** A time limit the schema has checked, in ms; 0 when there is none. */
function timeLimitMs(time: string | undefined): number {
	return (time === undefined ? undefined : parseSlurmDuration(time)) ?? 0;
}

/** " (from defaults.<key>)" when the model inherits the key. */
function origin(own: SlurmSettings, key: SlurmKey): string {
	return own[key] === undefined ? ` (from defaults.${key})` : '';
}

/**
 * What a slurm model sets that cannot work: its own contradictions (see slurmContradictions), GPU
 * ids (SLURM assigns GPUs), tunnel keys on a model reached directly, a tunnel without a user.
 */
export function slurmModelProblems(slurm: SlurmConfig, own: SlurmSettings & Pick<ModelSettings, 'gpus' | 'gpus_per_replica'>, inherited: SlurmSettings, at: KeyPath): string[] {
	const problems = slurmContradictions(own, inherited, at);
	const gpuKey = (['gpus', 'gpus_per_replica'] as const).find(key => own[key] !== undefined);
	if (gpuKey !== undefined) {
		problems.push(`${at(gpuKey)} does not apply to a slurm model: SLURM assigns its GPUs; request them with sbatch_args.gres (such as gres = "gpu:2") or the srun command's --gres.`);
	}

	const tunnelKey = (['loopback_host', 'loopback_user', 'loopback_ssh_port'] as const).find(key => own[key] !== undefined);
	if (slurm.reach === 'direct' && tunnelKey !== undefined) {
		problems.push((own.reach ?? inherited.reach) !== undefined
			? `${at(tunnelKey)} applies to reach = "tunnel" only, and reach is "direct"${origin(own, 'reach')}; drop ${tunnelKey}, or set reach = "tunnel".`
			: `${at(tunnelKey)} applies to reach = "tunnel" only, which needs loopback_host: ${loopbackHostNeeded}; set it, or drop ${tunnelKey}.`);
	}

	if (slurm.reach === 'tunnel' && slurm.tunnel === undefined && (own.loopback_host ?? inherited.loopback_host) !== undefined) {
		problems.push(`${at('loopback_user')} is required for reach = "tunnel": neither USER nor LOGNAME is set and the current user has no name; set loopback_user.`);
	}

	return problems;
}

/** A slurm key on a model of another launcher: the first one, since one fix (or one deletion) covers them all. */
export function misplacedSlurmKeys(own: SlurmSettings, at: KeyPath): string[] {
	const key = slurmKeys.find(name => own[name] !== undefined);
	return key === undefined ? [] : [`${at(key)} applies to slurm models only; set launcher = "slurm".`];
}
