"""A small hand-written stdio MCP server that misbehaves on purpose, for the tests.

    python rogue_server.py MODE [LOGFILE]

It speaks just enough MCP (initialize, tools/list with one tool ``poke``, tools/call) and
misbehaves as MODE says:

    ok           behaves (the baseline)
    garbage      writes lines that are not JSON before every answer
    invalid      answers tools/call with a response that breaks JSON-RPC
    silent       never answers anything
    hang         answers the handshake, never answers tools/call
    flood        floods stdout with notifications and stderr with lines before answering
    exit         writes to stderr and exits with code 3 at once
    huge         answers tools/call with a 50 MB result
    paged        lists its tools over three pages (poke, poke2, poke3)
    version      answers initialize with an unknown protocol revision
    ping         pings the client before answering tools/call, and reports its answer
    grandchild   starts a grandchild process (which prints its pid to LOGFILE)
    stubborn     ignores stdin closing and SIGTERM (only SIGKILL ends it)

Every message it receives is appended to LOGFILE (one JSON per line) when given.
"""

import json
import os
import signal
import subprocess
import sys
import time

MODE = sys.argv[1]
LOG = sys.argv[2] if len(sys.argv) > 2 else None
TOOL = {"name": "poke", "description": "Poke the server.",
        "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}}


def send(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def log(message):
    if LOG:
        with open(LOG, "a") as f:
            f.write(json.dumps(message) + "\n")


def result(request, value):
    send({"jsonrpc": "2.0", "id": request["id"], "result": value})


def initialize(request):
    version = "1999-01-01" if MODE == "version" else request["params"]["protocolVersion"]
    result(request, {"protocolVersion": version, "capabilities": {"tools": {}},
                     "serverInfo": {"name": f"rogue-{MODE}", "version": "1"}})


def tools_list(request):
    if MODE != "paged":
        return result(request, {"tools": [TOOL]})
    cursor = (request.get("params") or {}).get("cursor")
    pages = {None: ([TOOL], "p2"), "p2": ([{**TOOL, "name": "poke2"}], "p3"),
             "p3": ([{**TOOL, "name": "poke3"}], None)}
    tools, following = pages[cursor]
    result(request, {"tools": tools, **({"nextCursor": following} if following else {})})


def tools_call(request):
    text = request["params"].get("arguments", {}).get("text", "")
    if MODE == "hang":
        return
    if MODE == "invalid":
        return send({"jsonrpc": "1.0", "id": request["id"], "result": {}, "error": {}})
    if MODE == "flood":
        for i in range(20000):
            send({"jsonrpc": "2.0", "method": "notifications/message",
                  "params": {"level": "info", "data": f"flood {i}"}})
            if i % 10 == 0:
                print(f"stderr flood {i}", file=sys.stderr)
    if MODE == "huge":
        return result(request, {"content": [{"type": "text", "text": "x" * (50 * 1024 * 1024)}]})
    if MODE == "ping":
        send({"jsonrpc": "2.0", "id": "srv-1", "method": "ping"})
        answer = json.loads(sys.stdin.readline())
        log(answer)
        text = f"ping answered: {json.dumps(answer, sort_keys=True)}"
    result(request, {"content": [{"type": "text", "text": f"poked {text}".strip()}]})


HANDLERS = {"initialize": initialize, "tools/list": tools_list, "tools/call": tools_call,
            "ping": lambda request: result(request, {})}


def main():
    if MODE == "exit":
        print("boom: this server cannot start", file=sys.stderr, flush=True)
        sys.exit(3)
    if MODE == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if MODE == "grandchild":
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        log({"grandchild": child.pid})
    for line in sys.stdin:
        request = json.loads(line)
        log(request)
        if MODE == "silent" or "id" not in request:
            continue
        if MODE == "garbage":
            sys.stdout.write("this is not json\n{broken\n\n")
        handler = HANDLERS.get(request.get("method"))
        if handler is None:
            send({"jsonrpc": "2.0", "id": request["id"],
                  "error": {"code": -32601, "message": "no such method"}})
        else:
            handler(request)
    if MODE == "stubborn":
        while True:
            time.sleep(1)
    os._exit(0)


if __name__ == "__main__":
    main()
