// What the JS SDK interop scripts share: a failed check, and running the checks once per binding
// under one time limit, exiting 1 with the reason on the first failure.

export class CheckFailed extends Error {}

export function check(condition, what, detail) {
  if (!condition) {
    const shown = detail === undefined ? '' : `: ${typeof detail === 'string' ? detail : JSON.stringify(detail)}`;
    throw new CheckFailed(`${what}${shown}`);
  }
}

/** Runs `perBinding(binding)` for JSONRPC and HTTP+JSON within `limitMs`; prints the verdict. */
export async function runBindings(perBinding, limitMs) {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 20) {
    console.error(`FAIL: @a2a-js/sdk needs Node >= 20 (global fetch); this is Node ${process.versions.node}`);
    process.exit(1);
  }
  const hardLimit = setTimeout(() => {
    console.error(`FAIL: the A2A JS client checks did not finish within ${limitMs} ms`);
    process.exit(1);
  }, limitMs);
  for (const binding of ['JSONRPC', 'HTTP+JSON']) {
    try {
      await perBinding(binding);
    } catch (err) {
      let why = err instanceof CheckFailed ? err.message : (err?.stack ?? String(err));
      if (err?.cause) why += `\n  caused by: ${err.cause?.message ?? err.cause}`;
      console.error(`FAIL [${binding}]: ${why}`);
      process.exit(1);
    }
  }
  clearTimeout(hardLimit);
  console.log('all A2A JS SDK checks passed');
}
