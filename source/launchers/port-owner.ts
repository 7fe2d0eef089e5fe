import {readdirSync, readFileSync, readlinkSync} from 'node:fs';
import {groupMembers} from './process-group.js';

const listenState = '0A';

/**
 * Whether the socket listening on `port` belongs to a process in process group `group`.
 * Undefined where the system cannot tell (no Linux /proc).
 */
export function listenerInGroup(port: number, group: number): boolean | undefined {
	const inodes = listeningInodes(port);
	if (inodes === undefined) {
		return undefined;
	}

	return groupMembers(group)?.some(({pid}) => holdsSocket(pid, inodes)) ?? false;
}

function listeningInodes(port: number): Set<string> | undefined {
	const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
	const inodes = new Set<string>();
	let readable = false;
	for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
		let text: string;
		try {
			text = readFileSync(table, 'utf8');
			readable = true;
		} catch {
			continue;
		}

		for (const line of text.split('\n').slice(1)) {
			const fields = line.trim().split(/\s+/);
			if (fields[1]?.endsWith(`:${hexPort}`) && fields[3] === listenState && fields[9]) {
				inodes.add(fields[9]);
			}
		}
	}

	return readable ? inodes : undefined;
}

function holdsSocket(pid: string, inodes: Set<string>): boolean {
	try {
		return readdirSync(`/proc/${pid}/fd`).some(fd => {
			try {
				const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
				return target.startsWith('socket:[') && inodes.has(target.slice(8, -1));
			} catch {
				return false;
			}
		});
	} catch {
		return false;
	}
}
