"""The ``mcp`` plugin: tools from MCP (Model Context Protocol) servers, as a skill runtime.

Layers, lowest first (each module has one job):

- ``jsonrpc``: JSON-RPC 2.0 message handling over any ``send`` callback (no I/O);
- ``stdio`` and ``http``: the two transports, a child process speaking newline-delimited
  JSON and a Streamable HTTP endpoint (over httpx);
- ``client``: one MCP session: ``initialize``, ``tools/list``, ``tools/call``, ``ping``;
- ``supervisor``: one configured server kept running (start, retry with backoff, restart
  after a crash) and the set of them;
- ``settings``: the ``[mcp.servers.<name>]`` tables, checked strictly;
- ``results``: a ``tools/call`` result turned into ``tool_result`` content blocks.

Only the standard library and httpx are used: the official SDK is a test-only dependency.
"""
