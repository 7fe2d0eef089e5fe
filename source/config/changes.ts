import {isDeepStrictEqual} from 'node:util';
import type {ModelConfig, ServerConfig} from './types.js';

/*
 * What differs between two versions of the configuration, named as the file names it, so that a
 * live reload can say what it applied and what waits for a restart.
 */

/**
 * Settings a backend is started with: a change reaches a backend that runs already at its next
 * start (a reload never kills a backend under its requests). A SLURM job keeps the resources and
 * tunnel it was submitted with, so `slurm` reaches the model's next job.
 */
export const startSettings: ReadonlySet<keyof ModelConfig> = new Set<keyof ModelConfig>(['slurm', 'command', 'env', 'host', 'port', 'portBase', 'pingPath', 'startupTimeoutMs', 'stopGraceMs', 'gpus', 'gpusPerReplica']);

/**
 * [server] settings the running proxy takes live; the others (its address, keys, log dir) need a
 * restart. So does slurm_poll: the watcher that asks squeue about the jobs takes its pace when it is
 * made, at start, and a pace is not worth re-timing a running watcher for.
 */
export const liveServerSettings: ReadonlySet<keyof ServerConfig> = new Set<keyof ServerConfig>(['logLevel', 'maxBodyBytes', 'health']);

/** Keys whose TOML name is not their field's name in snake case. */
const tomlNames: Partial<Record<string, string>> = {
	maxBodyBytes: 'max_body_size',
	logMaxBytes: 'log_max_size',
	adminKeys: 'admin_key',
	health: 'health_checks, health_interval, health_timeout or unhealthy_after',
	replicas: 'replicas, min_replicas, max_replicas, scale_up_queue, scale_up_after or scale_down_after',
	slurm: 'sbatch_args, srun_command, reach, loopback_user, loopback_host, loopback_ssh_port or renew_before',
};

/** The key in switchboard.toml that sets a field: `idleTimeoutMs` is `idle_timeout`. */
export function settingName(field: string): string {
	return tomlNames[field] ?? field.replace(/Ms$/, '').replaceAll(/[A-Z]/g, letter => `_${letter.toLowerCase()}`);
}

/** The fields whose values differ, in the order of `after`'s keys. */
export function changedSettings<T extends object>(before: T, after: T): Array<keyof T> {
	return (Object.keys(after) as Array<keyof T>).filter(key => !isDeepStrictEqual(before[key], after[key]));
}
