"""`vsentinel stop`: end the local stack (embedded PostgreSQL and Redis, the shared local Ray) of VS_DATA_DIR."""

from __future__ import annotations

import typer

from cluster.cli_common import settings_or_exit
from cluster.console import console
from sentinel import stack


def stop_command(
    timeout: float = typer.Option(60.0, min=1, help="Seconds the owning command gets to end itself."),
) -> None:
    """End the local stack of VS_DATA_DIR: the commands that started its local Ray and its embedded PostgreSQL
    and Redis are asked to end (SIGINT), then whatever of the stack still runs is stopped."""
    settings = settings_or_exit()
    ray_record = stack.stop_ray(settings.data_dir, timeout_s=timeout)
    if ray_record is not None:
        console.print(
            f"stopped the local Ray of {settings.data_dir} (owner pid {ray_record.owner.pid}; {ray_record.address})",
            markup=False,
        )
    record = stack.stop(settings.data_dir, timeout_s=timeout)
    if record is None:
        if ray_record is None:
            console.print(f"no local stack running for {settings.data_dir}", markup=False)
        return
    servers = ", ".join(f"{name} pid {proc.pid}" for name, proc in record.servers())
    console.print(
        f"stopped the local stack of {settings.data_dir} (owner pid {record.owner.pid}; {servers})", markup=False
    )
