#!/usr/bin/env python3
"""Ask a gitops-agent one question over MCP Streamable HTTP and print the answer's markdown.

    scripts/mcp-ask.py http://127.0.0.1:8080/mcp list_kustomizations '{"status_filter": "failed"}'

Uses the stateless 2026-07-28 form of MCP (no session), standard library only. Exits 1 when the
call fails (JSON-RPC error or a tool error), printing the message. With GITOPS_AGENT_TOKEN set,
sends it as the bearer token (agents with --auth=kubernetes need one, e.g. from
`kubectl create token`).
"""
import base64
import json
import os
import sys
import urllib.error
import urllib.request

VERSION = "2026-07-28"


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    url, tool = sys.argv[1], sys.argv[2]
    try:
        arguments = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    except json.JSONDecodeError as e:
        print(f"arguments are not JSON: {e}", file=sys.stderr)
        return 2
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {
            "name": tool,
            "arguments": arguments,
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": VERSION,
                "io.modelcontextprotocol/clientCapabilities": {},
            },
        },
    }
    headers = {
        "content-type": "application/json",
        "accept": "application/json, text/event-stream",
        "mcp-protocol-version": VERSION,
        "mcp-method": "tools/call",
        "mcp-name": tool,
    }
    # The `cluster` argument is mirrored in its header, as every 2026-07-28 client does
    # (x-mcp-header): verbatim when it is plain visible ASCII that does not itself look encoded,
    # else Base64 (the rule of gitops_agent_api::tools::param_headers).
    cluster = arguments.get("cluster") if isinstance(arguments, dict) else None
    if isinstance(cluster, str) and cluster:
        looks_encoded = cluster.startswith("=?base64?") and cluster.endswith("?=")
        plain = cluster.isascii() and cluster.isprintable() and cluster == cluster.strip(" \t") and not looks_encoded
        headers["mcp-param-cluster"] = cluster if plain else "=?base64?" + base64.b64encode(cluster.encode()).decode() + "?="
    if os.environ.get("GITOPS_AGENT_TOKEN"):
        headers["authorization"] = "Bearer " + os.environ["GITOPS_AGENT_TOKEN"]
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as e:
        print(f"HTTP {e.code}: {e.read().decode(errors='replace')}", file=sys.stderr)
        return 1
    except urllib.error.URLError as e:
        print(f"cannot reach {url}: {e.reason}", file=sys.stderr)
        return 1
    if "error" in answer:
        print(f"error {answer['error'].get('code')}: {answer['error'].get('message')}", file=sys.stderr)
        return 1
    result = answer["result"]
    print("\n".join(c.get("text", "") for c in result.get("content", [])))
    return 1 if result.get("isError") else 0


if __name__ == "__main__":
    sys.exit(main())
