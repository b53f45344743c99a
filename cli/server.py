"""``phasewatch server``: the command server that runs commands without their start-up cost."""

from __future__ import annotations

import typer

from phasewatch.cli.common import FORMAT_OPTION, JSON_OPTION, emit, new_app, output_format

app = new_app("The command server: runs each command in a child of a process that has imported phasewatch.")


@app.command("status")
def status(format_: str | None = FORMAT_OPTION, json_: bool = JSON_OPTION) -> None:
    """Is the command server running: its pid, commands served and idle time (exit 0 either way)."""
    from phasewatch.cli import command_server

    path = command_server.default_socket()
    state = command_server.ask(path, {"op": "status"})
    if state is None or not state.get("ok"):
        if output_format(format_, json_) == "table":
            off = "" if command_server.enabled() else f" ({command_server.SERVER_ENV} is off: none will start)"
            print(f"no command server running ({path}){off}; the next command starts one")
            return
        state = {"running": False, "socket": str(path)}
    else:
        state = {"running": True, **{k: v for k, v in state.items() if k != "ok"}}
    columns = ("running", "pid", "socket", "uptime_s", "idle_s", "idle_timeout_s", "commands")
    emit(format_, "command server", columns, [tuple(state.get(c, "") for c in columns)], json_=json_, data=state)


@app.command("stop")
def stop() -> None:
    """Stop the command server (a no-op if none is running); commands running finish."""
    from phasewatch.cli import command_server

    path = command_server.default_socket()
    answer = command_server.ask(path, {"op": "stop"})
    typer.echo("command server stopped" if answer and answer.get("ok") else f"no command server running ({path})")
