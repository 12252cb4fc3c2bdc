// Interop check: the official A2A JavaScript SDK (@a2a-js/sdk) reads gitops-agent's authenticated
// extended agent card as two callers of an RBAC-enforcing cluster.
//
//   node extended-card-test.mjs http://127.0.0.1:PORT VIEWER_TOKEN EDITOR_TOKEN
//
// For each binding (JSONRPC, HTTP+JSON) and each caller, the SDK resolves the public card, sees
// capabilities.extendedAgentCard and fetches the extended card with the caller's bearer token
// (client.getAgentCard()). The editor, who may patch Kustomizations and HelmReleases, must get
// exactly the viewer's skills plus reconcile, suspend and resume. Prints one line per check; exits
// 1 with the reason on the first failure. tests/protocol/test_a2a_client.py runs it.

import { ClientFactory, ClientFactoryOptions, JsonRpcTransportFactory, RestTransportFactory } from '@a2a-js/sdk/client';
import { check, runBindings } from './checks.mjs';

const MUTATING = ['reconcile', 'resume', 'suspend'];
const CLUSTERS_EXTENSION = 'https://gitops-agent.dev/a2a/extensions/clusters/v1';
const RUN_TIMEOUT_MS = 120_000;


const log = (line) => console.log(line);

/** A fetch that sends the caller's token, as an orchestrator holding a ServiceAccount token would. */
function bearerFetch(token) {
  return (input, init = {}) => {
    const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
    headers.set('Authorization', `Bearer ${token}`);
    return fetch(input, { ...init, headers });
  };
}

async function extendedCard(base, binding, token) {
  const fetchImpl = bearerFetch(token);
  const factory = new ClientFactory(
    ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
      transports: [new JsonRpcTransportFactory({ fetchImpl }), new RestTransportFactory({ fetchImpl })],
      preferredTransports: [binding],
    }),
  );
  const client = await factory.createFromUrl(base);
  const transport = client.transport?.constructor?.name ?? '';
  const wanted = binding === 'JSONRPC' ? /JsonRpc/i : /Rest/i;
  check(wanted.test(transport), `the ${binding} transport was chosen`, transport);
  const card = await client.getAgentCard();
  check(card.capabilities?.extendedAgentCard === true, 'the card declares the extended card', card.capabilities);
  return card;
}

const ids = (card) => card.skills.map((s) => s.id).sort();

async function runBinding(base, binding, viewerToken, editorToken) {
  const viewer = await extendedCard(base, binding, viewerToken);
  const editor = await extendedCard(base, binding, editorToken);
  const [v, e] = [ids(viewer), ids(editor)];
  const added = e.filter((id) => !v.includes(id));
  check(JSON.stringify(added) === JSON.stringify(MUTATING), 'the editor gets the mutating skills on top of the viewer\'s', { viewer: v, editor: e });
  check(v.every((id) => e.includes(id)), 'the editor keeps every skill of the viewer', { viewer: v, editor: e });
  check(v.includes('list-kustomizations') && !v.includes('get-pod-logs'), 'the viewer reads Flux objects, not pods', v);
  for (const [who, card] of [['viewer', viewer], ['editor', editor]]) {
    const ext = (card.capabilities?.extensions ?? []).find((x) => x.uri === CLUSTERS_EXTENSION);
    check(ext, `${who}: the clusters extension`, card.capabilities?.extensions);
    const clusters = ext.params?.clusters ?? [];
    check(clusters.length === 1 && clusters[0].default === true, `${who}: one default cluster`, clusters);
    check(JSON.stringify([...clusters[0].skills].sort()) === JSON.stringify(ids(card)), `${who}: the cluster lists the card's skills`, clusters);
  }
  log(`[${binding}] viewer ${v.length} skills, editor ${e.length} (+ ${added.join(', ')})`);
}

async function main() {
  const [base, viewerToken, editorToken] = process.argv.slice(2);
  if (!base || !viewerToken || !editorToken) {
    console.error('usage: node extended-card-test.mjs http://127.0.0.1:PORT VIEWER_TOKEN EDITOR_TOKEN');
    process.exit(2);
  }
  await runBindings((binding) => runBinding(base, binding, viewerToken, editorToken), RUN_TIMEOUT_MS);
}

await main();
