// node --import tsx hold.mts <protocol> <port> <count> : holds count sessions (each welcomed) until killed
import { connectClient } from './bench/clients.ts';
const [protocol, port, count] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const target = { protocol, port, path: protocol.startsWith('ws') ? (protocol === 'websocket' ? '/ws' : '/ws_telnet') : '', pid: 0 } as never;
let welcomed = 0;
for (let i = 0; i < count; i += 50) {
  await Promise.all(Array.from({ length: Math.min(50, count - i) }, () => new Promise<void>((resolve) => {
    let seen = '';
    void connectClient(target, { onText: (t) => { seen += t; if (seen.includes('> ')) { welcomed++; seen = ''; resolve(); } }, onLost: () => resolve() });
  })));
}
console.log('held', welcomed);
setInterval(() => {}, 1e6);
