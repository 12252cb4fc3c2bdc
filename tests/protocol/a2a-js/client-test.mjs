// Interop check: the official A2A JavaScript SDK (@a2a-js/sdk, pinned in package.json) as a real
// client of a running gitops-agent serving the fixture cluster (examples/fixtures).
//
//   node client-test.mjs http://127.0.0.1:PORT
//
// For each binding, JSONRPC and HTTP+JSON (chosen with preferredTransports), it fetches the agent
// card (createFromUrl), sends a message with a data part naming a skill (sendMessage), streams one
// (sendMessageStream: task, statusUpdate, artifactUpdate, statusUpdate), reads the task back
// (getTask), and checks the SDK's errors for cancelTask on a finished task and getTask on an
// unknown id. Prints one line per check; exits 1 with the reason on the first failure.
//
// tests/protocol/test_a2a_client.py runs it (with node_modules installed by `npm ci` under target/).

import { ClientFactory, ClientFactoryOptions } from '@a2a-js/sdk/client';
import { Role, TaskState, taskStateToJSON } from '@a2a-js/sdk';
import { TaskNotCancelableError, TaskNotFoundError } from '@a2a-js/sdk/errors';
import { CheckFailed, check, runBindings } from './checks.mjs';

// Fixture facts: the failing Kustomizations of flux-system in examples/fixtures.
const FAILING_KUSTOMIZATIONS = ['team-a-apps', 'team-b-apps', 'team-b-dashboards'];
const SKILL_REQUEST = {
  skill: 'list-kustomizations',
  arguments: { namespace: 'flux-system', status_filter: 'failed' },
};
// No single SDK call may take longer than this; the whole run gets a hard limit too.
const CALL_TIMEOUT_MS = 30_000;
const RUN_TIMEOUT_MS = 120_000;


function withTimeout(promise, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new CheckFailed(`${what} took longer than ${CALL_TIMEOUT_MS} ms`)), CALL_TIMEOUT_MS);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

const stateName = (status) => taskStateToJSON(status?.state);

function userMessage(part) {
  return { messageId: crypto.randomUUID(), role: Role.ROLE_USER, parts: [part] };
}

const dataPart = (value) => ({ content: { $case: 'data', value } });

/** The answer artifact: a markdown text part and a data part with the tool's structured result. */
function checkAnswerArtifact(artifact, where) {
  check(artifact, `${where}: an artifact`, artifact);
  const text = artifact.parts.filter((p) => p.content?.$case === 'text').map((p) => p.content.value).join('\n');
  const data = artifact.parts.filter((p) => p.content?.$case === 'data').map((p) => p.content.value);
  check(text.includes('|') && text.includes('#'), `${where}: the text part is a markdown table`, text.slice(0, 300));
  for (const name of FAILING_KUSTOMIZATIONS) {
    check(text.includes(name), `${where}: the markdown names ${name}`, text.slice(0, 300));
  }
  check(data.length === 1, `${where}: exactly one data part`, artifact.parts);
  const answer = data[0];
  const names = (answer.items ?? []).map((i) => i.name).sort();
  check(
    JSON.stringify(names) === JSON.stringify(FAILING_KUSTOMIZATIONS),
    `${where}: the data part lists the failing kustomizations`,
    names,
  );
  check(answer.page?.total === FAILING_KUSTOMIZATIONS.length, `${where}: data.page.total`, answer.page);
  check(answer.namespace === 'flux-system', `${where}: data.namespace`, answer.namespace);
}

async function expectError(promise, errorClass, what) {
  try {
    const value = await withTimeout(promise, what);
    throw new CheckFailed(`${what}: expected ${errorClass.name}, got a result: ${JSON.stringify(value)}`);
  } catch (err) {
    if (err instanceof CheckFailed) throw err;
    check(err instanceof errorClass, `${what}: expected ${errorClass.name}`, `${err?.constructor?.name}: ${err?.message}`);
  }
}

async function runBinding(base, binding) {
  const log = (msg) => console.log(`[${binding}] ok: ${msg}`);
  const factory = new ClientFactory(
    ClientFactoryOptions.createFrom(ClientFactoryOptions.default, { preferredTransports: [binding] }),
  );

  // Card (GET {base}/.well-known/agent-card.json) and transport choice.
  const client = await withTimeout(factory.createFromUrl(base), 'createFromUrl');
  const card = await withTimeout(client.getAgentCard(), 'getAgentCard');
  check(card.name === 'gitops-agent', 'card.name', card.name);
  check(card.capabilities?.streaming === true, 'card.capabilities.streaming', card.capabilities);
  const skills = (card.skills ?? []).map((s) => s.id);
  check(skills.includes('get-gitops-status') && skills.includes('list-kustomizations'), 'card skills', skills);
  check(
    !['reconcile', 'suspend', 'resume'].some((s) => skills.includes(s)),
    'a read-only agent offers no mutating skill',
    skills,
  );
  check(client.protocolVersion === '1.0', 'the client speaks A2A 1.0', client.protocolVersion);
  // The bundle may rename classes (`_RestTransport`); the 0.3 ones are `Legacy*Transport`.
  const transport = client.transport?.constructor?.name ?? '';
  const wanted = binding === 'JSONRPC' ? /^_?JsonRpcTransport$/ : /^_?RestTransport$/;
  check(wanted.test(transport), `the ${binding} 1.0 transport was chosen`, transport);
  log(`card ${card.name} ${card.version}, ${skills.length} skills, transport ${transport}`);

  // sendMessage (blocking): a Task that completed, with the answer artifact.
  const sent = await withTimeout(client.sendMessage({ message: userMessage(dataPart(SKILL_REQUEST)) }), 'sendMessage');
  check(sent && !('messageId' in sent) && sent.id, 'sendMessage returns a Task', sent);
  check(stateName(sent.status) === 'TASK_STATE_COMPLETED', 'sendMessage: the task completed', sent.status);
  check(sent.artifacts?.length === 1, 'sendMessage: one artifact', sent.artifacts);
  checkAnswerArtifact(sent.artifacts[0], 'sendMessage');
  log(`sendMessage -> task ${sent.id} ${stateName(sent.status)}`);

  // sendMessageStream: the task, then working, the artifact, and completed.
  const events = [];
  const streamed = (async () => {
    for await (const ev of client.sendMessageStream({ message: userMessage(dataPart(SKILL_REQUEST)) })) {
      events.push(ev);
    }
  })();
  await withTimeout(streamed, 'sendMessageStream');
  const cases = events.map((e) => e.payload?.$case);
  check(
    JSON.stringify(cases) === JSON.stringify(['task', 'statusUpdate', 'artifactUpdate', 'statusUpdate']),
    'stream events are task, statusUpdate, artifactUpdate, statusUpdate',
    cases,
  );
  const [first, working, artifactUpdate, completed] = events.map((e) => e.payload.value);
  const streamedId = first.id;
  check(streamedId && streamedId !== sent.id, 'the stream starts with a new task', first);
  check(
    ['TASK_STATE_SUBMITTED', 'TASK_STATE_WORKING'].includes(stateName(first.status)),
    'the first event is the task before it finished',
    first.status,
  );
  check(stateName(working.status) === 'TASK_STATE_WORKING', 'then the task is working', working.status);
  check(working.taskId === streamedId, 'statusUpdate.taskId', working);
  check(artifactUpdate.taskId === streamedId, 'artifactUpdate.taskId', artifactUpdate.taskId);
  checkAnswerArtifact(artifactUpdate.artifact, 'artifactUpdate');
  check(stateName(completed.status) === 'TASK_STATE_COMPLETED', 'the last event says completed', completed.status);
  check(completed.taskId === streamedId, 'the last statusUpdate.taskId', completed);
  log(`sendMessageStream -> ${cases.join(', ')} (${stateName(completed.status)})`);

  // getTask: the streamed task, finished, with its artifact.
  const got = await withTimeout(client.getTask({ id: streamedId }), 'getTask');
  check(got.id === streamedId, 'getTask returns the task asked for', got.id);
  check(stateName(got.status) === 'TASK_STATE_COMPLETED', 'getTask: completed', got.status);
  check(got.artifacts?.length === 1, 'getTask: one artifact', got.artifacts);
  checkAnswerArtifact(got.artifacts[0], 'getTask');
  log(`getTask ${streamedId} -> ${stateName(got.status)}`);

  // The SDK's errors: a finished task cannot be canceled; an unknown id is not found.
  await expectError(client.cancelTask({ id: sent.id }), TaskNotCancelableError, 'cancelTask on a completed task');
  log('cancelTask on a completed task -> TaskNotCancelableError');
  await expectError(client.getTask({ id: `no-such-task-${crypto.randomUUID()}` }), TaskNotFoundError, 'getTask on an unknown id');
  log('getTask on an unknown id -> TaskNotFoundError');
}

async function main() {
  const base = process.argv[2];
  if (!base) {
    console.error('usage: node client-test.mjs http://127.0.0.1:PORT');
    process.exit(2);
  }
  await runBindings((binding) => runBinding(base, binding), RUN_TIMEOUT_MS);
}

await main();
