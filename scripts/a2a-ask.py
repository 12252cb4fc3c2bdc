#!/usr/bin/env python3
"""Ask a gitops-agent one question over A2A 1.0 (JSON-RPC SendMessage) and print the answer.

    scripts/a2a-ask.py http://127.0.0.1:8080 "which kustomizations are failing in flux-system?"
    scripts/a2a-ask.py http://127.0.0.1:8080 --skill get-kustomization '{"name": "apps", "namespace": "flux-system"}'

Prints the skill the agent chose, the task's state and the answer's markdown (or the agent's
question when it needs more input). Standard library only. Exits 1 on a JSON-RPC error or a
failed task. With GITOPS_AGENT_TOKEN set, sends it as the bearer token (agents with
--auth=kubernetes need one, e.g. from `kubectl create token`).
"""
import os
import json
import sys
import urllib.error
import urllib.request
import uuid


def main() -> int:
    args = sys.argv[1:]
    if len(args) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    url = args[0].rstrip("/") + "/"
    if args[1] == "--skill":
        if len(args) < 3:
            print("--skill needs a skill id", file=sys.stderr)
            return 2
        try:
            arguments = json.loads(args[3]) if len(args) > 3 else {}
        except json.JSONDecodeError as e:
            print(f"arguments are not JSON: {e}", file=sys.stderr)
            return 2
        part = {"data": {"skill": args[2], "arguments": arguments}}
    else:
        part = {"text": " ".join(args[1:])}
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "SendMessage",
        "params": {"message": {"messageId": str(uuid.uuid4()), "role": "ROLE_USER", "parts": [part]}},
    }
    headers = {"Content-Type": "application/json", "A2A-Version": "1.0"}
    if os.environ.get("GITOPS_AGENT_TOKEN"):
        headers["Authorization"] = "Bearer " + os.environ["GITOPS_AGENT_TOKEN"]
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.load(response)
    except (urllib.error.URLError, OSError, json.JSONDecodeError) as e:
        print(f"{url}: {e}", file=sys.stderr)
        return 1
    if "error" in answer:
        print(f"error {answer['error'].get('code')}: {answer['error'].get('message')}", file=sys.stderr)
        return 1
    task = answer.get("result", {}).get("task", {})
    state = task.get("status", {}).get("state", "?")
    skill = (task.get("metadata") or {}).get("skill", "help")
    print(f"[{state.removeprefix('TASK_STATE_').lower()}, skill {skill}]")
    for artifact in task.get("artifacts", []):
        for p in artifact.get("parts", []):
            if "text" in p:
                print(p["text"])
    message = task.get("status", {}).get("message")
    if message:
        print(" ".join(p.get("text", "") for p in message.get("parts", [])))
    return 1 if state in ("TASK_STATE_FAILED", "TASK_STATE_REJECTED") else 0


if __name__ == "__main__":
    sys.exit(main())
