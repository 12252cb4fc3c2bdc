"""Protocol tests: the official MCP Python SDK (PyPI `mcp`) as a real client of gitops-agent.

The session-scoped `servers` fixture of conftest.py starts the embedded Kubernetes API server
(`fake-apiserver`) with the Flux fixtures of examples/fixtures, then `gitops-agent serve` against
it over HTTP. The tests talk to /mcp through `streamable_http_client` + `ClientSession`, and one
test spawns the agent over stdio through `stdio_client`. Run with scripts/protocol-tests.sh.

SDK naming: mcp 2.x calls the 1.x `streamablehttp_client` `streamable_http_client` and the 1.x
`McpError` `MCPError`; the imports below fall back to the 1.x names so either major version works.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

import anyio
import pytest
from conftest import FIXED_NOW, REPO_ROOT, Servers, tail
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

try:  # mcp >= 2.0
    from mcp.client.streamable_http import streamable_http_client
except ImportError:  # mcp 1.x
    from mcp.client.streamable_http import streamablehttp_client as streamable_http_client  # type: ignore
try:  # mcp >= 2.0
    from mcp.shared.exceptions import MCPError
except ImportError:  # mcp 1.x
    from mcp.shared.exceptions import McpError as MCPError  # type: ignore

EXPECTED_TOOL_COUNT = 21
MUTATING_TOOLS = {"reconcile", "suspend", "resume"}
# The MCP revisions the agent may negotiate with this SDK.
KNOWN_PROTOCOL_VERSIONS = {"2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28"}
JSONRPC_INVALID_PARAMS = -32602
# Upper bound for any one test's MCP exchange, so that a hung server fails the test.
TEST_TIMEOUT_SECONDS = 60

pytestmark = pytest.mark.anyio


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


@asynccontextmanager
async def http_session(url: str) -> AsyncIterator[tuple[ClientSession, Any]]:
    """An initialized SDK session over Streamable HTTP, and its initialize result."""
    async with streamable_http_client(url) as streams:
        read_stream, write_stream = streams[0], streams[1]  # 1.x yields a third item
        async with ClientSession(read_stream, write_stream) as session:
            init = await session.initialize()
            yield session, init


def text_of(result: Any) -> str:
    return "\n".join(block.text for block in result.content if getattr(block, "type", None) == "text")


# --------------------------------------------------------------------------------------------
# Streamable HTTP
# --------------------------------------------------------------------------------------------


async def test_http_initialize(servers: Servers) -> None:
    with anyio.fail_after(TEST_TIMEOUT_SECONDS):
        async with http_session(servers.mcp_url) as (session, init):
            assert init.server_info.name == "gitops-agent"
            assert init.capabilities.tools is not None, "the server must advertise the tools capability"
            # ClientSession.initialize() of mcp 2.3.0 offers its newest handshake revision,
            # 2025-11-25, and gitops-agent accepts it: the negotiated version is 2025-11-25.
            # (2026-07-28 is reached only through server/discover, i.e. mcp.client.Client's
            # default mode="auto", not through the initialize handshake.)
            assert init.protocol_version in KNOWN_PROTOCOL_VERSIONS
            negotiated = getattr(session, "protocol_version", init.protocol_version)
            assert negotiated == init.protocol_version


async def test_http_list_tools(servers: Servers) -> None:
    with anyio.fail_after(TEST_TIMEOUT_SECONDS):
        async with http_session(servers.mcp_url) as (session, _):
            result = await session.list_tools()
    tools = result.tools
    names = [tool.name for tool in tools]
    assert len(tools) == EXPECTED_TOOL_COUNT, names
    assert len(set(names)) == len(names), f"duplicate tool names: {names}"
    assert {"list_kustomizations", "get_pod_logs", "trace_object"} <= set(names)
    # Read-only is the default: the mutating tools are not offered.
    assert not MUTATING_TOOLS & set(names), names
    for tool in tools:
        assert tool.input_schema.get("type") == "object", f"{tool.name}: inputSchema {tool.input_schema}"
        assert tool.output_schema is not None, f"{tool.name} has no outputSchema"
        assert tool.output_schema.get("type") == "object", f"{tool.name}: outputSchema {tool.output_schema}"
        assert tool.annotations is not None, f"{tool.name} has no annotations"
        assert tool.annotations.read_only_hint is True, f"{tool.name}: {tool.annotations}"


async def test_http_list_failed_kustomizations(servers: Servers) -> None:
    with anyio.fail_after(TEST_TIMEOUT_SECONDS):
        async with http_session(servers.mcp_url) as (session, _):
            # The SDK also validates structuredContent against the tool's outputSchema here.
            result = await session.call_tool("list_kustomizations", {"status_filter": "failed"})
    assert result.is_error is not True, text_of(result)
    assert "team-a-apps" in text_of(result)
    assert result.structured_content is not None
    assert result.structured_content["page"]["total"] == 3, result.structured_content["page"]


async def test_http_invalid_argument_is_a_tool_error_naming_it(servers: Servers) -> None:
    # 2025-11-25 (what this SDK negotiates) and later report an argument that fails validation as
    # a tool execution error the model can correct (SEP-1303), naming the parameter; an unknown
    # tool stays a protocol error (JSON-RPC -32602), which the SDK raises as MCPError.
    with anyio.fail_after(TEST_TIMEOUT_SECONDS):
        async with http_session(servers.mcp_url) as (session, _):
            result = await session.call_tool("get_kustomization", {"name": "BAD_NAME", "namespace": "flux-system"})
            with pytest.raises(MCPError) as raised:
                await session.call_tool("no_such_tool", {})
    assert result.is_error is True, result
    assert text_of(result).startswith("invalid argument `name`"), text_of(result)
    assert raised.value.error.code == JSONRPC_INVALID_PARAMS, raised.value.error
    assert "unknown tool" in raised.value.error.message, raised.value.error.message


async def test_http_missing_helmrelease_is_a_tool_error(servers: Servers) -> None:
    with anyio.fail_after(TEST_TIMEOUT_SECONDS):
        async with http_session(servers.mcp_url) as (session, _):
            result = await session.call_tool("get_helmrelease", {"name": "nope", "namespace": "team-b"})
    assert result.is_error is True, result
    assert "not found" in text_of(result).lower(), text_of(result)


async def test_http_pod_logs_are_redacted(servers: Servers) -> None:
    with anyio.fail_after(TEST_TIMEOUT_SECONDS):
        async with http_session(servers.mcp_url) as (session, _):
            result = await session.call_tool(
                "get_pod_logs", {"pod_name": "api-7c9d8f6b5-qwz8r", "namespace": "team-b", "tail_lines": 100}
            )
    assert result.is_error is not True, text_of(result)
    text = text_of(result)
    assert "[REDACTED]" in text, text
    # The fixture log (examples/fixtures/logs/team-b/api-7c9d8f6b5-qwz8r/api.log) has password=hunter2.
    assert "hunter2" not in text
    assert "hunter2" not in str(result.structured_content)


# --------------------------------------------------------------------------------------------
# stdio
# --------------------------------------------------------------------------------------------


async def test_stdio_session(servers: Servers) -> None:
    params = StdioServerParameters(
        command=str(servers.agent_bin),
        args=["serve", "--transport", "stdio", "--kubeconfig", str(servers.kubeconfig), "--fixed-now", FIXED_NOW],
        env={"NO_COLOR": "1"},
        cwd=str(REPO_ROOT),
    )
    # The server logs to stderr; give it a real file (pytest's captured sys.stderr has no fd).
    stderr_log = servers.workdir / "gitops-agent-stdio.log"
    with stderr_log.open("w") as errlog:
        try:
            with anyio.fail_after(TEST_TIMEOUT_SECONDS):
                async with stdio_client(params, errlog=errlog) as streams:
                    async with ClientSession(streams[0], streams[1]) as session:
                        init = await session.initialize()
                        assert init.server_info.name == "gitops-agent"
                        assert init.protocol_version in KNOWN_PROTOCOL_VERSIONS
                        tools = await session.list_tools()
                        assert len(tools.tools) == EXPECTED_TOOL_COUNT, [t.name for t in tools.tools]
                        result = await session.call_tool("get_gitops_status", {})
        except BaseException:
            errlog.flush()
            print(f"stdio server stderr:\n{tail(stderr_log)}")
            raise
    assert result.is_error is not True, text_of(result)
    assert "Unhealthy" in text_of(result), text_of(result)
