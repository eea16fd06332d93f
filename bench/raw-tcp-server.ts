// Baseline for tcp and telnet: a line echo server on node:net alone, what a hand-written server costs.
// Usage: node --import tsx bench/raw-tcp-server.ts <port>
import { serveLines } from './raw-line-server.js';
import type { TextReader } from './raw-line-server.js';

const latin1: TextReader = (chunk) => chunk.toString('latin1');

serveLines(Number(process.argv[2]), 'Welcome to the raw tcp echo server\r\n', () => latin1);
