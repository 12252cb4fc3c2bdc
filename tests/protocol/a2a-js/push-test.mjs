// Interop check: push notifications through the official A2A JavaScript SDK (@a2a-js/sdk).
//
//   node push-test.mjs http://127.0.0.1:PORT
//
// The agent allows webhooks on 127.0.0.1 (--a2a-push-allow-hosts), where this script listens as
// the receiver. For each binding (JSONRPC, HTTP+JSON) it asks a question the agent needs more
// input for (the task waits), registers a push config on the task with a token and Bearer
// credentials (createTaskPushNotificationConfig), reads it back (get, list), answers the task and
// waits for the webhook to get the working update (twice: the receiver fails the first try with a
// 500), the answer and the completed update, each with the config's headers; then deletes the
// config and checks that it is gone and that a webhook at the metadata address is refused. Exits 1
// with the reason on the first failure. tests/protocol/test_a2a_client.py runs it.

import http from 'node:http';
import { ClientFactory, ClientFactoryOptions } from '@a2a-js/sdk/client';
import { Role } from '@a2a-js/sdk';
import { TaskNotFoundError } from '@a2a-js/sdk/errors';
import { CheckFailed, check, runBindings } from './checks.mjs';

const RUN_TIMEOUT_MS = 120_000;
const WAIT_MS = 15_000;
const LOG_ARGUMENTS = { pod_name: 'api-7c9d8f6b5-qwz8r', namespace: 'team-b' };

/** The webhook: records each POST; answers 500 to the first of each binding's run, then 200. */
function startReceiver() {
  const got = [];
  const state = { failNext: 0 };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      got.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString() || 'null') });
      const status = state.failNext > 0 ? (state.failNext--, 500) : 200;
      res.writeHead(status, { 'content-length': '0' });
      res.end();
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({ server, got, state, url: `http://127.0.0.1:${server.address().port}/hook` }));
  });
}

const updateState = (body) => body?.statusUpdate?.status?.state;
const message = (parts, taskId) => ({ messageId: crypto.randomUUID(), role: Role.ROLE_USER, parts, ...(taskId ? { taskId } : {}) });
const text = (value) => ({ content: { $case: 'text', value } });
const data = (value) => ({ content: { $case: 'data', value } });

async function waitFor(receiver, done, what) {
  const deadline = Date.now() + WAIT_MS;
  while (Date.now() < deadline) {
    if (receiver.got.some((r) => done(r.body))) return receiver.got.slice();
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new CheckFailed(`${what}: not received within ${WAIT_MS} ms; got ${JSON.stringify(receiver.got.map((r) => r.body))}`);
}

async function refused(promise, what) {
  try {
    await promise;
  } catch (err) {
    check(/webhook URL/.test(err?.message ?? ''), `${what}: refused with the reason`, err?.message);
    return;
  }
  throw new CheckFailed(`${what}: expected a refusal`);
}

async function runBinding(base, binding, receiver) {
  const log = (msg) => console.log(`[${binding}] ok: ${msg}`);
  const factory = new ClientFactory(ClientFactoryOptions.createFrom(ClientFactoryOptions.default, { preferredTransports: [binding] }));
  const client = await factory.createFromUrl(base);
  const card = await client.getAgentCard();
  check(card.capabilities?.pushNotifications === true, 'the card offers push notifications', card.capabilities);

  const asked = await client.sendMessage({ message: message([text('show me the logs')]) });
  check(asked?.id && asked.status?.state !== undefined, 'sendMessage returns the waiting task', asked);
  const taskId = asked.id;
  const config = {
    tenant: '', id: 'js-hook', taskId, url: receiver.url, token: 'tok-js',
    authentication: { scheme: 'Bearer', credentials: 'js-secret' },
  };
  const created = await client.createTaskPushNotificationConfig(config);
  check(created.id === 'js-hook' && created.taskId === taskId && created.url === receiver.url, 'created config', created);
  const got = await client.getTaskPushNotificationConfig({ tenant: '', taskId, id: 'js-hook' });
  check(got.token === 'tok-js' && got.authentication?.scheme === 'Bearer', 'the config reads back', got);
  const listed = await client.listTaskPushNotificationConfig({ tenant: '', taskId, pageSize: 0, pageToken: '' });
  check(JSON.stringify((listed.configs ?? []).map((c) => c.id)) === '["js-hook"]', 'the task lists its config', listed);
  log(`config ${created.id} on task ${taskId}`);

  receiver.got.length = 0;
  receiver.state.failNext = 1;
  await client.sendMessage({ message: message([data(LOG_ARGUMENTS)], taskId) });
  const notes = await waitFor(receiver, (b) => updateState(b) === 'TASK_STATE_COMPLETED', 'the completed update');
  const seen = notes.map((n) => updateState(n.body) ?? Object.keys(n.body ?? {})[0]);
  check(
    JSON.stringify(seen) === JSON.stringify(['TASK_STATE_WORKING', 'TASK_STATE_WORKING', 'artifactUpdate', 'TASK_STATE_COMPLETED']),
    'the webhook got each update in order, the first one again after its 500',
    seen,
  );
  for (const n of notes) {
    check(n.headers.authorization === 'Bearer js-secret', 'the config\'s credentials', n.headers);
    check(n.headers['x-a2a-notification-token'] === 'tok-js', 'the config\'s token', n.headers);
    const update = n.body.statusUpdate ?? n.body.artifactUpdate;
    check(update?.taskId === taskId, 'each update names the task', n.body);
  }
  log(`webhook got ${seen.join(', ')}`);

  await client.deleteTaskPushNotificationConfig({ tenant: '', taskId, id: 'js-hook' });
  try {
    await client.getTaskPushNotificationConfig({ tenant: '', taskId, id: 'js-hook' });
    throw new CheckFailed('a deleted config is still there');
  } catch (err) {
    if (err instanceof CheckFailed) throw err;
    check(err instanceof TaskNotFoundError, 'a deleted config is TaskNotFoundError', `${err?.constructor?.name}: ${err?.message}`);
  }
  await refused(
    client.createTaskPushNotificationConfig({ tenant: '', id: '', taskId, url: 'https://169.254.169.254/latest/meta-data/', token: '' }),
    'a webhook at the metadata address',
  );
  log('deleted; the metadata address is refused');
}

const base = process.argv[2];
if (!base) {
  console.error('usage: node push-test.mjs http://127.0.0.1:PORT');
  process.exit(2);
}
const receiver = await startReceiver();
await runBindings((binding) => runBinding(base, binding, receiver), RUN_TIMEOUT_MS);
receiver.server.close();
