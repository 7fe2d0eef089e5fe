import {Table} from '@alcalzone/ink-table';
import {Box, Text} from 'ink';
import {memo} from 'react';
import {fit} from '../format/text.js';
import {keyMap} from '../keys.js';

/** Every key and what it does (a small table that never changes: ink-table's cost is paid once). */
export const Help = memo(({width, height}: {width: number; height: number}) => (
	<Box flexDirection="column" height={height} overflow="hidden">
		<Text bold>Keys (esc or ? closes this help)</Text>
		<Table data={keyMap.filter(key => key.help !== '').map(key => ({key: key.keys, action: fit(key.help, Math.max(20, width - 16))}))}/>
		<Text dimColor>Every key goes through the admin API, as `switchboard` scripts do: see README.md, “Admin API”.</Text>
	</Box>
));
