import {Box} from 'ink';
import {useMemo} from 'react';
import {gpuStripLines} from '../format/gpu-strip.js';
import type {GpuPoll} from '../gpu/nvidia-smi.js';
import {Line} from './line.js';

export interface GpuStripProps {
	/** The latest poll; undefined until the first one is back. */
	poll: GpuPoll | undefined;
	/** A GPU's CUDA_VISIBLE_DEVICES index → the label of the local backend holding it (`chat#0`). */
	holders: ReadonlyMap<string, string>;
	width: number;
}

/** Each GPU's utilisation, memory and holder in one or two lines; or why nvidia-smi gave none, in one. */
export function GpuStrip({poll, holders, width}: GpuStripProps) {
	const lines = useMemo(() => poll === undefined ? []
		: 'error' in poll ? [[{text: `nvidia-smi: ${poll.error}`, color: 'yellow' as const}]]
		: gpuStripLines(poll.readings, holders, width), [poll, holders, width]);
	return (
		<Box flexDirection="column">
			{lines.map((cells, index) => <Line key={index} cells={cells}/>)}
		</Box>
	);
}
