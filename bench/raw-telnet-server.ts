// A second baseline for telnet connects: raw-tcp-server.ts with the opening a hand-written telnet
// server sends (character mode: it echoes, the client sends its window size and terminal type),
// and the client's answers read past, so that its client answers negotiation as the framework's does.
// Usage: node --import tsx bench/raw-telnet-server.ts <port>
import { DO, IAC, OPT_ECHO, OPT_NAWS, OPT_SGA, OPT_TTYPE, SB, SE, WILL } from '../src/telnet/constants.js';
import { serveLines } from './raw-line-server.js';

const OPENING = Buffer.concat([
  Buffer.from([IAC, DO, OPT_TTYPE, IAC, DO, OPT_NAWS, IAC, WILL, OPT_SGA, IAC, WILL, OPT_ECHO]),
  Buffer.from('Welcome to the raw telnet echo server\r\n', 'latin1'),
]);

/** Where a connection's input is: in text, after IAC, in a command's option, in a subnegotiation, after IAC there. */
const TEXT = 0;
const COMMAND = 1;
const OPTION = 2;
const SUBNEGOTIATION = 3;
const SUBNEGOTIATION_IAC = 4;

serveLines(Number(process.argv[2]), OPENING, () => {
  let state = TEXT;
  return (chunk) => {
    let text = '';
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i]!;
      switch (state) {
        case TEXT:
          if (byte === IAC) {
            text += chunk.toString('latin1', start, i);
            state = COMMAND;
          }
          break;
        case COMMAND:
          if (byte === SB) state = SUBNEGOTIATION;
          else if (byte >= WILL && byte !== IAC) state = OPTION;
          else {
            // IAC IAC is a 255 in the text; any other command stands alone.
            if (byte === IAC) text += '\xff';
            state = TEXT;
            start = i + 1;
          }
          break;
        case OPTION:
          state = TEXT;
          start = i + 1;
          break;
        case SUBNEGOTIATION:
          if (byte === IAC) state = SUBNEGOTIATION_IAC;
          break;
        case SUBNEGOTIATION_IAC:
          state = byte === SE ? TEXT : SUBNEGOTIATION;
          start = i + 1;
          break;
      }
    }
    return state === TEXT ? text + chunk.toString('latin1', start) : text;
  };
});
