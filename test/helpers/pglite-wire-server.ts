import net from 'node:net';
import { parseArgs } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';

/**
 * PGlite (PostgreSQL compiled to WebAssembly, with the real pgvector) behind the PostgreSQL wire protocol on a
 * loopback port, for many clients at once: started by `pglite-server.ts` as a child process.
 *
 * PGlite has one session. `@electric-sql/pglite-socket`'s multiplexer runs the clients' messages one by one, in
 * whatever order they arrive, which mixes one client's Parse with another's Bind under concurrent extended-protocol
 * queries (node-postgres sends every parameterised query that way). Here each client's messages run as a unit up to
 * its Sync (or simple Query), and once a client opens a transaction only its messages run until it ends: what
 * separate sessions would give, in the order the units arrive.
 */

const SSL_REQUEST = 80877103;
const CANCEL_REQUEST = 80877102;

const { values } = parseArgs({
  options: { port: { type: 'string' }, db: { type: 'string', default: 'memory://' } },
});
const db = await PGlite.create(values.db, { extensions: { vector } });

interface Unit {
  client: Client;
  messages: Uint8Array[];
}

interface Client {
  socket: net.Socket;
  closed: boolean;
}

const pending: Unit[] = [];
let owner: Client | undefined;
let running = false;

/** Runs the units in order of arrival, except that a client inside a transaction keeps the session. */
async function drain(): Promise<void> {
  if (running) return;
  running = true;
  try {
    for (;;) {
      const next = pending.findIndex((unit) => owner === undefined || unit.client === owner);
      if (next === -1) return;
      const [unit] = pending.splice(next, 1);
      if (unit === undefined) return;
      await db.runExclusive(async () => {
        for (const message of unit.messages) {
          await db.execProtocolRawStream(message, {
            onRawData: (data) => {
              if (!unit.client.closed) unit.client.socket.write(Buffer.from(data));
            },
          });
        }
      });
      owner = db.isInTransaction() ? unit.client : undefined;
      if (owner?.closed === true) await release(owner);
    }
  } finally {
    running = false;
  }
}

/** A client gone inside its transaction: roll it back, so that the others may go on. */
async function release(client: Client): Promise<void> {
  if (owner !== client) return;
  // Not under runExclusive: exec takes PGlite's lock itself. Nothing else runs while a client owns the session.
  await db.exec('ROLLBACK');
  owner = undefined;
}

const server = net.createServer((socket) => {
  const client: Client = { socket, closed: false };
  let buffer = Buffer.alloc(0);
  let started = false;
  let messages: Uint8Array[] = [];
  const submit = (unit: Uint8Array[]) => {
    pending.push({ client, messages: unit });
    void drain();
  };
  socket.on('data', (data: Buffer) => {
    buffer = Buffer.concat([buffer, data]);
    for (;;) {
      if (!started) {
        if (buffer.length < 8) return;
        const length = buffer.readInt32BE(0);
        if (buffer.length < length) return;
        const code = buffer.readInt32BE(4);
        const message = buffer.subarray(0, length);
        buffer = buffer.subarray(length);
        if (code === SSL_REQUEST) socket.write('N');
        else if (code === CANCEL_REQUEST) socket.end();
        else {
          started = true;
          submit([new Uint8Array(message)]);
        }
        continue;
      }
      if (buffer.length < 5) return;
      const length = 1 + buffer.readInt32BE(1);
      if (buffer.length < length) return;
      const type = String.fromCharCode(buffer[0] ?? 0);
      const message = new Uint8Array(buffer.subarray(0, length));
      buffer = buffer.subarray(length);
      if (type === 'X') {
        socket.end();
        return;
      }
      messages.push(message);
      // Sync ends an extended-protocol exchange; a simple Query is one on its own.
      if (type === 'S' || type === 'Q') {
        submit(messages);
        messages = [];
      }
    }
  });
  socket.on('error', () => undefined);
  socket.on('close', () => {
    client.closed = true;
    for (let index = pending.length - 1; index >= 0; index -= 1) {
      if (pending[index]?.client === client) pending.splice(index, 1);
    }
    if (owner === client && !running) void release(client).then(drain);
  });
});

server.listen(Number(values.port), '127.0.0.1', () => console.log(`listening on 127.0.0.1:${values.port}`));
const stop = () => server.close(() => void db.close().finally(() => process.exit(0)));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
